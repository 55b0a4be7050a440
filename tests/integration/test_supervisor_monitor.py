"""Listen, whisper and barge on a real call: the supervisor's phone is rung and ChanSpy
joins it to the talking agent's channel with the mode's options; each use is audited.

A sipp caller talks (RTP audio) to agent 1001 (a sipp phone); the supervisor's
phone is a sipp UAS on supervisor9001's static contact (127.0.0.1:59001),
answering and playing audio, and hanging up after a few seconds.
"""

from __future__ import annotations

import aiohttp
import pytest

from cti.audit import AuditLog
from cti.server import Running
from tests.integration.test_agent_desktop import Agent, ready_in_asterisk, talking
from tests.support.pbx_fixture import AmiMessage, Pbx
from tests.support.sipp import AgentPhone, agent_port, start_call

pytestmark = pytest.mark.asterisk

SUPERVISOR_PORT = 59001


def spy_of(spyer_prefix: str, spyee: str, event: str):  # noqa: ANN201
    def matches(message: AmiMessage) -> bool:
        return (
            message.event == event
            and (message.get("SpyerChannel") or "").startswith(spyer_prefix)
            and message.get("SpyeeChannel") == spyee
        )

    return matches


async def test_listen_whisper_and_barge_spy_on_the_agents_channel(
    hotline, pbx: Pbx, demo_password
) -> None:
    running: Running = hotline
    async with aiohttp.ClientSession() as http, await pbx.ami() as ami:
        agent = Agent(http, running.web_url, "1001")
        supervisor = Agent(http, running.web_url, "supervisor")
        other = Agent(http, running.web_url, "1002")
        await agent.login(demo_password)
        await supervisor.login(demo_password)
        await other.login(demo_password)
        assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await ready_in_asterisk(running, "1001")
        async with (
            AgentPhone(port=agent_port(1001), answer_after_s=0.5) as phone,
            AgentPhone(port=SUPERVISOR_PORT, answer_after_s=0.3, hangup_after_s=3) as spy_phone,
        ):
            call = await start_call(
                running.settings.sip_port, caller_number="15550100001", dtmf="11", talk_s=90
            )
            async with call:
                call_id = await talking(running, "1001")
                await phone.wait_answered(timeout=10)
                channels = await ami.action_list("CoreShowChannels")
                [agent_channel] = [
                    m["Channel"]
                    for m in channels
                    if (m.get("Channel") or "").startswith("PJSIP/agent1001-")
                ]
                # an agent may not listen in
                status, body = await other.post(
                    "/api/supervisor/monitor", {"agent": "1001", "mode": "listen"}
                )
                assert (status, body["error"]) == (403, "forbidden")
                for count, mode in enumerate(("listen", "whisper", "barge"), start=1):
                    since = len(ami.events)
                    status, body = await supervisor.post(
                        "/api/supervisor/monitor", {"agent": "1001", "mode": mode}
                    )
                    assert status == 200, body
                    assert body["call_id"] == call_id
                    await spy_phone.wait_answered(count, timeout=15)
                    start = await ami.wait_event(
                        spy_of("PJSIP/supervisor9001-", agent_channel, "ChanSpyStart"),
                        timeout=10,
                        since=since,
                    )
                    spyer = start["SpyerChannel"]
                    # the dialplan ran the mode's own extension (ChanSpy options fixed there)
                    assert (start["SpyerContext"], start["SpyerExten"]) == ("hotline-spy", mode)
                    await ami.wait_event(
                        spy_of(spyer, agent_channel, "ChanSpyStop"), timeout=15, since=since
                    )
                    await spy_phone.wait_completed(count, timeout=10)
                assert call.answered
                assert running.hotline.core.calls[call_id].state.value == "talking"
                await agent.post(f"/api/calls/{call_id}/hangup")
                await call.wait(20)
    entries = await AuditLog(running.hotline.repository.engine).entries()
    assert [(e.username, e.action, e.target, e.detail["mode"]) for e in entries] == [
        ("supervisor", "supervisor.monitor", "1001", mode)
        for mode in ("barge", "whisper", "listen")
    ]
    assert {e.detail["agent_channel"] for e in entries} == {agent_channel}
    assert {e.detail["call_id"] for e in entries} == {call_id}
