"""The crisis switch on the wallboard in headless Chromium: a supervisor turns
the shipped "emergency" profile on, the banner says so (English, then
Chinese), and turns it off again. Screenshots land in ``artifacts/``."""

from __future__ import annotations

from playwright.async_api import Dialog, async_playwright, expect

from tests.browser.page import ARTIFACTS
from tests.browser.test_staffing_page import CHROMIUM_ARGS
from tests.support.stub_service import SUPERVISOR_PASSWORD
from tests.unit import test_web_desktop
from tests.unit.test_web_desktop import Desk

desk = test_web_desktop.desk  # the desktop tests' fixture: real core, database, web app


async def test_a_supervisor_turns_crisis_mode_on_and_off_from_the_wallboard(desk: Desk) -> None:
    url = str(desk.client.make_url("/wallboard?lang=en"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await (
                await browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
            ).new_page()

            async def accept(dialog: Dialog) -> None:
                await dialog.accept()

            page.on("dialog", accept)
            await page.goto(url)
            await page.fill("#username", "supervisor")
            await page.fill("#password", SUPERVISOR_PASSWORD)
            await page.click("#login-form button[type=submit]")
            banner = page.locator("#crisis-banner")
            await expect(page.locator("#crisis-state")).to_have_text(
                "Normal flow and routes.", timeout=10_000
            )
            await expect(banner).to_be_hidden()
            await page.select_option("#crisis-profile", "emergency")
            await page.click("#crisis-on")
            await expect(banner).to_contain_text('Crisis mode ON: profile "emergency"')
            assert desk.hotline.crisis.state.profile == "emergency"
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "crisis-en.png"), full_page=True)
            await page.select_option("#lang", "zh")
            await expect(banner).to_contain_text("应急模式已开启")
            await expect(page.locator("#crisis-on")).to_have_text("开启")
            await page.screenshot(path=str(ARTIFACTS / "crisis-zh.png"), full_page=True)
            await page.click("#crisis-off")
            await expect(banner).to_be_hidden()
            assert desk.hotline.crisis.state.profile is None
        finally:
            await browser.close()
