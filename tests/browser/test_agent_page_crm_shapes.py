"""The agent page draws a call's controls whatever shape the site's CRM answers with.

The CRM is the site's own system: its follow-ups may be null, objects,
lists or numbers. The page (headless Chromium) shows what it can read, skips
the rest, and always draws the hang-up and transfer buttons, with no page error.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cti.domain import events as ev
from tests.browser.fixtures import LoggedInPage
from tests.support.pbx_fixture import free_tcp_port
from tests.support.web_desk import PASSWORD, running_desk

CALLER = "15550100001"  # Alice Johnson in the demo customers

# each CRM record, and what the page's CRM line says of it
SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "null and odd entries": (
        {
            "name": "Alice J. (CRM)",
            "account": "A-77",
            "follow_ups": [
                None,
                {"due": "2026-12-24", "text": "ship the router"},
                {"x": {}},
                7,
                [],
            ],
        },
        "found · A-77",
    ),
    "an object instead of a list": (
        {
            "name": {"first": "Alice"},
            "account": ["A-77"],
            "tier": None,
            "follow_ups": {"due": "2026-12-24", "text": "ship the router"},
        },
        "found",
    ),
}


@pytest.fixture
async def crm_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    record = SHAPES[request.param][0]

    async def lookup(req: web.Request) -> web.Response:
        if req.match_info["number"] != CALLER:
            return web.Response(status=404)
        return web.json_response(record)

    app = web.Application()
    app.router.add_get("/crm/{number}", lookup)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/crm/{{number}}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("crm_url", list(SHAPES), indirect=True)
async def test_odd_crm_follow_ups_still_draw_the_hang_up_and_transfer_buttons(
    tmp_path: Path, crm_url: str, logged_in_page: LoggedInPage, request: pytest.FixtureRequest
) -> None:
    crm_line = SHAPES[request.node.callspec.params["crm_url"]][1]
    async with running_desk(tmp_path, crm_url=crm_url, crm_timeout_s=2.0) as desk:
        base = str(desk.client.make_url("")).rstrip("/")
        page = await logged_in_page(base, "agent", username="1001", password=PASSWORD)
        state = await page.context.request.post(f"{base}/api/agent/state", data={"state": "ready"})
        assert state.ok, await state.text()
        await page.wait_text("#state", "Ready")

        hotline, now = desk.hotline, time.time()
        for event in (
            ev.CallStarted("c1", "PJSIP/trunk-c1", CALLER, "", now),
            ev.CallQueued("c1", "billing", 1, now),
            ev.AgentRang("c1", "1001", "billing", now + 1),
        ):
            hotline.carry_out(hotline.core.apply(event))
        await page.wait_text("#pop-crm", "found")  # the CRM's answer is on the page
        hotline.carry_out(hotline.core.apply(ev.CallAnswered("c1", "1001", "billing", now + 2)))

        await page.wait_visible("#btn-hangup", timeout=5)
        await page.wait_visible("#btn-transfer", timeout=5)
        await page.wait_text("#pop-followups", "2026-12-24 · ship the router")
        assert await page.text("#pop-crm") == crm_line
        assert await page.page_errors() == []
