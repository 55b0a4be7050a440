"""pytest fixtures for browser tests: Debian's Chromium and pages logged in as a role.

::

    async def test_wallboard(hotline: Running, logged_in_page: LoggedInPage) -> None:
        page = await logged_in_page(hotline.web_url, "supervisor", path="/wallboard")
        await page.wait_text("#title", "Wallboard")

The page's browser context logs in over the HTTP API (``POST /api/login``;
the session cookie lands in the context), checks that the session has the
role asked for, then opens ``path``. The seeded demo users stand for the
roles they have (:data:`SEEDED_USERS`); for another role, create the user
and pass ``username`` and ``password``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

import pytest
from playwright.async_api import Browser

from tests.browser.page import BrowserPage, chromium

#: A demo-seeded user (cti/demo.py) of each role; all share the demo password.
SEEDED_USERS = {"agent": "1001", "supervisor": "supervisor"}


class LoggedInPage(Protocol):
    def __call__(
        self,
        base_url: str,
        role: str = "agent",
        *,
        path: str = "/agent",
        username: str | None = None,
        password: str | None = None,
        locale: str = "en-GB",
    ) -> Awaitable[BrowserPage]: ...


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium for one test."""
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def logged_in_page(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[LoggedInPage]:
    """Open pages already logged in as a role (see the module's docstring)."""
    pages: list[BrowserPage] = []

    async def open_page(
        base_url: str,
        role: str = "agent",
        *,
        path: str = "/agent",
        username: str | None = None,
        password: str | None = None,
        locale: str = "en-GB",
    ) -> BrowserPage:
        if username is None:
            if role not in SEEDED_USERS:
                raise ValueError(f"no seeded {role!r} user: pass username= and password=")
            username = SEEDED_USERS[role]
        if password is None:
            password = str(request.getfixturevalue("demo_password"))
        page = await BrowserPage.open(browser, locale=locale)
        pages.append(page)
        http = page.context.request
        response = await http.post(
            f"{base_url}/api/login", data={"username": username, "password": password}
        )
        assert response.ok, f"login as {username}: {response.status} {await response.text()}"
        me = await (await http.get(f"{base_url}/api/me")).json()
        assert me.get("role") == role, f"{username} has the role {me.get('role')!r}, not {role!r}"
        await page.goto(f"{base_url}{path}")
        return page

    yield open_page
    for page in pages:
        await page.close()
