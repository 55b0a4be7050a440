"""The first path end to end, on the real Asterisk with real SIP calls.

sipp caller -> FastAGI IVR (DTMF over SIP INFO) -> queue -> agent phone (sipp
UAS) rung -> screen-pop on the agent's WebSocket -> answer -> recording ->
one CDR row.
"""

from __future__ import annotations

import aiohttp
import pytest

from cti.domain.model import AgentState
from recordings.catalogue import audio_level
from tests.support.agent_client import login, next_of_type, set_state
from tests.support.sipp import AgentPhone, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


async def test_real_call_pops_screen_records_and_writes_cdr(hotline, demo_password) -> None:
    running = hotline
    base = running.web_url
    async with aiohttp.ClientSession() as http:
        token = await login(http, base, "1001", demo_password)
        async with http.ws_connect(
            f"{base}/ws", headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            hello = await next_of_type(ws, "hello", 5)
            assert hello["agent"]["state"] == "paused"
            await set_state(http, base, token, state="ready")
            core = running.hotline.core
            await wait_until(
                lambda: (
                    core.queues["billing"].members.get("1001") is not None
                    and not core.queues["billing"].members["1001"].paused
                ),
                within=10,
                what="Asterisk to report agent 1001 unpaused in billing",
            )
            async with AgentPhone(port=51001, answer_after_s=0.5) as phone:
                call = await start_call(
                    running.settings.sip_port,
                    caller_number="13800138000",
                    caller_name="张伟",
                    dtmf="11",  # English, then billing
                    dtmf_gap_s=1.0,
                    talk_s=6,
                )
                pop = await next_of_type(ws, "screen.pop", 30)
                assert pop["caller_number"] == "13800138000"
                assert pop["customer"]["name"] == "张伟"
                assert pop["customer"]["tier"] == "platinum"
                assert pop["queue"] == "billing"
                assert "menu=1" in pop["ivr_path"]
                assert pop["waited_s"] >= 0
                call_id = pop["call_id"]
                result = await call.wait(60)
                assert result.answered, result
                await wait_until(
                    lambda: (
                        call_id not in core.calls and core.agents["1001"].state is AgentState.READY
                    ),
                    within=15,
                    what="the call to end and agent 1001 to be ready again",
                )
                assert phone.calls_answered >= 1
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None
    assert (cdr.queue, cdr.agent_id, cdr.disposition) == ("billing", "1001", "answered")
    assert "menu=1" in cdr.ivr_path
    assert cdr.caller_number == "13800138000"
    assert cdr.caller_name == "张伟"
    assert cdr.customer_id is not None
    assert cdr.wait_s >= 0
    assert cdr.talk_s > 0
    assert cdr.recording_path is not None
    level = audio_level(__import__("pathlib").Path(cdr.recording_path))
    assert level.seconds > 1.0
    assert not level.silent, level
