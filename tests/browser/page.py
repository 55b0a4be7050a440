"""Headless Chromium pages for browser tests (the Python ``playwright`` package).

Playwright drives Debian's own Chromium (``/usr/bin/chromium``, or
``HOTLINE_CHROMIUM``) through ``executable_path``: no browser is ever
downloaded (``playwright install`` is never run). A missing Chromium makes
the test FAIL with what to install: browser tests are never skipped.

::

    async with chromium() as browser, new_page(browser) as page:
        await page.goto(url)
        shown_at = await page.wait_text("#pop-name", "Alice")  # epoch seconds

Tests of a page behind the login usually take the ``logged_in_page``
fixture (``tests/browser/fixtures.py``) instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    return os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, closed on exit."""
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        pytest.fail(
            f"Chromium is missing at {executable} (apt-get install chromium; ./dev test does)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


class BrowserPage:
    """One page of its own browser context, with waits that report what they saw."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    @classmethod
    async def open(
        cls, browser: Browser, *, locale: str = "en-GB", timeout: float = 15.0
    ) -> BrowserPage:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(timeout * 1000)
        return cls(context, await context.new_page())

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"[console.{message.type}] {message.text}")

    def diagnostics(self, lines: int = 40) -> str:
        shown = [*self.console, *(f"[pageerror] {e}" for e in self.errors)][-lines:]
        return "\n".join(shown) or "(no page output)"

    async def close(self) -> None:
        await self.context.close()

    # -------------------------------------------------------------- commands
    async def goto(self, url: str) -> str:
        await self.page.goto(url, wait_until="load")
        return self.page.url

    async def fill(self, selector: str, value: str) -> None:
        await self.page.fill(selector, value)

    async def click(self, selector: str) -> None:
        await self.page.click(selector)

    async def select(self, selector: str, value: str) -> None:
        await self.page.select_option(selector, value)

    async def text(self, selector: str) -> str:
        return await self.page.text_content(selector) or ""

    async def value(self, selector: str) -> str:
        """The value of an input, select or textarea."""
        return await self.page.input_value(selector)

    async def visible(self, selector: str) -> bool:
        return await self.page.is_visible(selector)

    async def wait_text(self, selector: str, text: str, *, timeout: float = 10.0) -> float:
        """Wait until ``selector`` is visible and contains ``text``.

        Returns the page's clock (epoch seconds) when it was seen (polled every 10 ms).
        """
        try:
            shown = await self.page.wait_for_function(
                """([selector, text]) => {
                    const el = document.querySelector(selector);
                    const shown = el && el.offsetParent !== null && el.textContent.includes(text);
                    return shown ? Date.now() : false;
                }""",
                arg=[selector, text],
                polling=10,
                timeout=timeout * 1000,
            )
        except PlaywrightError as exc:
            current = await self.page.text_content(selector, timeout=1000)
            raise AssertionError(
                f"{selector} did not show {text!r} within {timeout} s (it shows {current!r}): "
                f"{exc.message}\n{self.diagnostics()}"
            ) from None
        return float(await shown.json_value()) / 1000.0

    async def wait_visible(self, selector: str, *, timeout: float = 10.0) -> None:
        await self.page.wait_for_selector(selector, state="visible", timeout=timeout * 1000)

    async def wait_hidden(self, selector: str, *, timeout: float = 10.0) -> None:
        await self.page.wait_for_selector(selector, state="hidden", timeout=timeout * 1000)

    async def screenshot(self, name: str) -> Path:
        """A full-page screenshot into ``artifacts/``."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def page_errors(self) -> list[str]:
        return list(self.errors)


@contextlib.asynccontextmanager
async def new_page(browser: Browser, *, locale: str = "en-GB") -> AsyncIterator[BrowserPage]:
    """A page in a fresh browser context (no cookies), closed on exit."""
    page = await BrowserPage.open(browser, locale=locale)
    try:
        yield page
    finally:
        await page.close()
