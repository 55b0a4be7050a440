"""The wallboard page in headless Chromium (Python playwright, Debian's
chromium): the waiting call and its growing wait, the answered count within a
second of the answer, a wait alarm raised and cleared; screenshots in English,
Chinese and TV mode into artifacts/.

The server is the real core, database and web app with a stub AMI: calls are
played into the core as domain events (the real-call test of the frame is
test_wallboard_calls.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from cti.domain import events as ev
from tests.browser.page import ARTIFACTS, chromium_path
from tests.support.stub_service import SUPERVISOR_PASSWORD
from tests.support.wallboard_app import T0, wallboard_app

RULES = """
timezone: UTC
alarms:
  - {name: sl-wait, kind: longest_wait, queue: "*", threshold: 15, clear: 0, severity: critical}
"""
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def check_chromium() -> None:
    if not Path(chromium_path()).exists():
        pytest.fail(f"Chromium is missing at {chromium_path()} (apt-get install chromium)")


def screenshot_sizes(*names: str) -> list[int]:
    return [(ARTIFACTS / name).stat().st_size for name in names]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    check_chromium()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def cell(page: Page, queue: str, column: str) -> str:
    return await page.inner_text(f'#queues tr[data-queue="{queue}"] .{column}')


async def test_the_wallboard_shows_waits_answers_and_alarms_live(
    browser: Browser, tmp_path: Path
) -> None:
    async with wallboard_app(tmp_path, RULES) as board:
        await board.ready("1001")
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(board.url + "wallboard?lang=en")
        await page.fill("#username", "supervisor")
        await page.fill("#password", SUPERVISOR_PASSWORD)
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#conn.on", timeout=5000)
        await page.wait_for_selector('#queues tr[data-queue="billing"]', timeout=5000)
        assert await cell(page, "billing", "waiting") == "0"

        board.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        await page.wait_for_function(
            """() => document.querySelector('#queues tr[data-queue="billing"] .waiting')
                     .textContent === "1" """,
            timeout=2000,
        )
        first = await cell(page, "billing", "longest")
        await page.wait_for_function(
            f"""() => document.querySelector('#queues tr[data-queue="billing"] .longest')
                      .textContent !== "{first}" """,
            timeout=3000,
        )  # the wait grows on the page

        board.now[0] = T0 + 16  # past the 15 s threshold: the server's clock raises the alarm
        await page.wait_for_selector('#alarms li.critical[data-rule="sl-wait"]', timeout=3000)
        assert "billing" in (await page.inner_text("#alarms")).lower()
        await page.screenshot(path=str(ARTIFACTS / "wallboard-en.png"), full_page=True)

        answered_at = time.monotonic()
        board.play(
            ev.AgentRang("c1", "1001", "billing", T0 + 16),
            ev.CallAnswered("c1", "1001", "billing", T0 + 16),
        )
        await page.wait_for_function(
            """() => document.querySelector('#queues tr[data-queue="billing"] .answered')
                     .textContent === "1" """,
            timeout=1000,
        )
        shown_after = time.monotonic() - answered_at
        assert shown_after < 1.0
        assert await cell(page, "billing", "waiting") == "0"
        assert await page.inner_text('#agents tr[data-agent="1001"] .state') == "Talking"
        await page.wait_for_selector('#alarms li.cleared[data-rule="sl-wait"]', timeout=3000)
        assert await page.is_visible("#no-alarms")

        await page.select_option("#lang", "zh")
        await page.wait_for_function("() => document.title === '实时监控大屏'", timeout=2000)
        assert await page.inner_text('#agents tr[data-agent="1001"] .state') == "通话中"
        await page.screenshot(path=str(ARTIFACTS / "wallboard-zh.png"), full_page=True)

        tv = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await tv.context.add_cookies(await page.context.cookies())
        await tv.goto(board.url + "wallboard?tv=1&lang=en")
        await tv.wait_for_selector("#conn.on", timeout=5000)
        await tv.wait_for_selector('#queues tr[data-queue="billing"]', timeout=5000)
        assert not await tv.is_visible("#lang")  # no controls on the TV
        assert await tv.evaluate("document.body.classList.contains('tv')")
        await tv.screenshot(path=str(ARTIFACTS / "wallboard-tv.png"), full_page=True)
        sizes = screenshot_sizes("wallboard-en.png", "wallboard-zh.png", "wallboard-tv.png")
        assert min(sizes) > 10_000
