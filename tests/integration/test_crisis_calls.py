"""The crisis switch on real calls: turned on while the hotline runs, a new call
takes the crisis profile's flow (its announcement first); a call in the IVR
when the switch is turned off finishes on the flow it started with, and the
next call gets the normal flow again."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from cti.demo import DemoSecrets
from cti.server import running_hotline
from tests.integration.test_ivr import short_flow
from tests.support.agent_client import Agent
from tests.support.sipp import start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


async def test_a_new_call_gets_the_crisis_flow_and_after_off_the_normal_one(
    hotline_settings, demo_secrets: DemoSecrets, tmp_path: Path
) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    async with running_hotline(settings) as running, aiohttp.ClientSession() as http:
        core, repository = running.hotline.core, running.hotline.repository
        supervisor = Agent(http, running.web_url, "supervisor")
        await supervisor.login(demo_secrets.supervisor_password)
        status, state = await supervisor.post("/api/crisis", {"profile": "emergency"})
        assert status == 200 and state["profile"] == "emergency", state

        # a new call: the announcement, then the emergency flow (no menu: general)
        crisis_call = await start_call(
            settings.sip_port, caller_number="15550700001", dtmf="", talk_s=22
        )
        async with crisis_call:
            await wait_until(lambda: bool(core.calls), within=15, what="the call to start")
            call_id = next(iter(core.calls))
            await wait_until(
                lambda: (
                    call_id in core.calls
                    and core.calls[call_id].ivr_path.startswith("announcement=crisis")
                ),
                within=15,
                what="the crisis announcement to start",
            )
            # turned off while this caller hears the announcement
            status, state = await supervisor.post("/api/crisis", {"profile": None})
            assert status == 200 and not state["active"], state
            await crisis_call.wait(60)
        await wait_until(lambda: call_id not in core.calls, within=15, what="the call to end")

        # the next call: the normal (short) flow, menu choice 1
        normal_call = await start_call(
            settings.sip_port, caller_number="15550700002", dtmf="11", dtmf_gap_s=1.0, talk_s=14
        )
        async with normal_call:
            await normal_call.wait(60)
        await wait_until(lambda: not core.calls, within=15, what="every call to end")
        await running.hotline.drain()
        crisis_cdr = await repository.cdr(call_id)
        (normal_cdr,) = await repository.recent_calls("15550700002")
        audit = await running.hotline.supervision.audit.entries(limit=5, action="crisis.switch")
    assert crisis_cdr is not None
    assert crisis_cdr.ivr_path == "announcement=crisis>crisis>lang=en>queue=general"
    assert crisis_cdr.queue == "general"
    assert normal_cdr.ivr_path.endswith("lang=en>menu=1>queue=billing"), normal_cdr.ivr_path
    assert "crisis" not in normal_cdr.ivr_path
    assert [(e.username, e.detail.get("profile")) for e in audit] == [
        ("supervisor", None),
        ("supervisor", "emergency"),
    ]
