"""The staffing page in headless Chromium: plan beside the agents now, live calls, whisper.

The real web app, core and database (CDRs of past weeks stored); the call is
played into the core as domain events and the AMI is the desktop tests' stub,
which records the Originate the whisper button causes (the real ChanSpy path
is tested on real calls in tests/integration/test_supervisor_monitor.py).
Screenshots in English and Chinese land in ``artifacts/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from playwright.async_api import async_playwright, expect

from tests.browser.page import ARTIFACTS
from tests.support.stub_service import SUPERVISOR_PASSWORD
from tests.support.waiting import wait_until
from tests.unit import test_web_desktop
from tests.unit.test_web_desktop import Desk
from tests.unit.test_web_supervisor import cdr, talking_call

desk = test_web_desktop.desk  # the desktop tests' fixture: real core, database, web app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DAY = date(2026, 12, 11)


async def test_supervisor_sees_the_plan_and_whispers_to_a_talking_agent(desk: Desk) -> None:
    desk.hotline.settings.staffing_timezone = "UTC"
    records = []
    for week in (1, 2):
        past = date.fromordinal(DAY.toordinal() - 7 * week)
        nine = datetime(past.year, past.month, past.day, 9, tzinfo=UTC).timestamp()
        records += [(cdr(f"w{week}-{i}", nine + 90 * i, True, 240.0), None) for i in range(36)]
    await desk.hotline.repository.save_cdrs(records)
    await desk.login("1002")  # a second agent logged in (paused)
    talking_call(desk)  # agent 1001 talking
    url = str(desk.client.make_url("/staffing"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                locale="en-US", viewport={"width": 1200, "height": 900}
            )
            page = await context.new_page()
            await page.goto(url)
            await page.fill("#username", "supervisor")
            await page.fill("#password", SUPERVISOR_PASSWORD)
            await page.click("#login-form button[type=submit]")
            row = page.locator('#live tr[data-agent="1001"]')
            await expect(row).to_be_visible(timeout=10_000)
            await page.fill("#day", DAY.isoformat())
            await page.fill("#weeks", "2")
            await page.select_option("#interval", "60")
            await page.click("#plan-form button[type=submit]")
            billing = page.locator('table[data-queue="billing"]')
            await expect(billing).to_contain_text("09:00", timeout=10_000)
            nine = billing.locator("tr", has_text="09:00")
            cells = await nine.locator("td").all_inner_texts()
            # 36 calls of 240 s in the hour: 2.4 Erlangs; Erlang C needs 5 for 80 % in 20 s
            assert cells[1] == "36.0" and cells[3] == "2.40" and cells[4] == "5", cells
            await expect(page.locator("#queues h3")).to_contain_text("logged in now 2")
            await row.locator('button[data-mode="whisper"]').click()
            await expect(page.locator("#notice")).to_contain_text("Your phone is ringing")
            await wait_until(
                lambda: bool(desk.ami.named("Originate")), within=5, what="the Originate"
            )
            [originate] = desk.ami.named("Originate")
            assert (originate["Context"], originate["Exten"]) == ("hotline-spy", "whisper")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "staffing-en.png"), full_page=True)
            await page.select_option("#lang", "zh")
            await expect(page.locator("h1")).to_have_text("排班")
            await expect(page.locator("#notice")).to_contain_text("您的话机正在响铃：耳语")
            await expect(row.locator('button[data-mode="whisper"]')).to_have_text(
                "耳语", timeout=5_000
            )
            await expect(page.locator('table[data-queue="billing"] th').first).to_have_text("时段")
            await page.screenshot(path=str(ARTIFACTS / "staffing-zh.png"), full_page=True)
        finally:
            await browser.close()
    for name in ("staffing-en.png", "staffing-zh.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
