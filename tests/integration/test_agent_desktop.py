"""Agent desktop call control on real calls: hang-up and blind transfer over AMI.

The API is used as the agent page uses it; the calls are real SIP calls
through the test Asterisk (sipp caller, sipp agent phones).
"""

from __future__ import annotations

import aiohttp
import pytest

from cti.domain.model import AgentState
from cti.server import Running
from tests.support.agent_client import Agent, next_of_type, ready_in_asterisk, talking
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


async def test_agent_hangs_up_own_call_and_no_other_agent_can(hotline, demo_password) -> None:
    running: Running = hotline
    async with aiohttp.ClientSession() as http:
        mine, other = Agent(http, running.web_url, "1001"), Agent(http, running.web_url, "1002")
        await mine.login(demo_password)
        await other.login(demo_password)  # logged in, paused: the call goes to 1001
        assert (await mine.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await ready_in_asterisk(running, "1001")
        async with AgentPhone(port=agent_port(1001), answer_after_s=0.5) as phone:
            call = await start_call(
                running.settings.sip_port, caller_number="15550100001", dtmf="11", talk_s=60
            )
            async with call:
                call_id = await talking(running, "1001")
                await phone.wait_answered(timeout=10)
                for path, body in (
                    (f"/api/calls/{call_id}/hangup", {}),
                    (f"/api/calls/{call_id}/transfer", {"queue": "general"}),
                    (f"/api/calls/{call_id}/disposition", {"disposition": "resolved"}),
                ):
                    status, answer = await other.post(path, body)
                    assert status == 403, (path, answer)
                    assert answer["error"] == "not_your_call"
                assert running.hotline.core.calls[call_id].state.value == "talking"
                status, answer = await mine.post(f"/api/calls/{call_id}/hangup")
                assert status == 200, answer
                result = await call.wait(20)
                assert result.answered and result.remote_hangup, result.describe()
                await phone.wait_completed(timeout=10)  # the agent's leg ended too
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None
    assert (cdr.agent_id, cdr.disposition) == ("1001", "answered")
    assert cdr.talk_s < 30  # hung up by the agent, long before the caller's 60 s


async def test_blind_transfer_to_a_queue_reaches_another_agent(hotline, demo_password) -> None:
    running: Running = hotline
    core = running.hotline.core
    core.agents["1001"].wrap_up_s = 60  # 1001 stays out of the queues after the transfer
    async with aiohttp.ClientSession() as http:
        first, second = Agent(http, running.web_url, "1001"), Agent(http, running.web_url, "1004")
        await first.login(demo_password)
        await second.login(demo_password)
        assert (await first.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await ready_in_asterisk(running, "1001")
        async with (
            AgentPhone(port=agent_port(1001), answer_after_s=0.5) as phone1,
            AgentPhone(port=agent_port(1004), answer_after_s=0.5) as phone4,
            second.socket() as ws4,
        ):
            await next_of_type(ws4, "hello", 5)
            call = await start_call(
                running.settings.sip_port, caller_number="15550100002", dtmf="11", talk_s=60
            )
            async with call:
                call_id = await talking(running, "1001")
                await phone1.wait_answered(timeout=10)
                assert (await second.post("/api/agent/state", {"state": "ready"}))[0] == 200
                await ready_in_asterisk(running, "1004")
                status, answer = await first.post(
                    f"/api/calls/{call_id}/transfer", {"queue": "technical"}
                )
                assert status == 200, answer
                pop = await next_of_type(ws4, "screen.pop", 30)
                assert pop["call_id"] == call_id
                assert pop["queue"] == "technical"
                assert pop["transfer"] == {"from": "1001", "to": "technical", "kind": "queue"}
                assert pop["customer"]["name"] == "Bob Miller"
                second_call = await talking(running, "1004")
                assert second_call == call_id  # the same call, now with 1004
                assert core.agents["1001"].state is AgentState.WRAP_UP
                await phone4.wait_answered(timeout=10)
                # the agent who took the transferred call may act on it; the first may not
                status, answer = await first.post(f"/api/calls/{call_id}/hangup")
                assert (status, answer["error"]) == (403, "not_your_call")
                status, answer = await second.post(f"/api/calls/{call_id}/hangup")
                assert status == 200, answer
                result = await call.wait(20)
                assert result.answered and result.remote_hangup, result.describe()
                await wait_until(
                    lambda: call_id not in core.calls, within=10, what="the call to end"
                )
                status, answer = await second.post(
                    f"/api/calls/{call_id}/disposition", {"disposition": "escalated"}
                )
                assert status == 200, answer
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None
    assert (cdr.agent_id, cdr.queue, cdr.disposition) == ("1004", "technical", "answered")
    assert cdr.agent_disposition == "escalated"
