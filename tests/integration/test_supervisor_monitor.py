"""Listen, whisper and barge on a real call: the supervisor's phone is rung and ChanSpy
joins it to the talking agent's channel with the mode's options; each use is audited.

First test: a sipp caller talks (RTP audio) to agent 1001 (a sipp phone); the
supervisor's phone is a sipp UAS on supervisor9001's static contact
(127.0.0.1:59001), answering and playing audio, and hanging up after a few
seconds. Second test: every leg is a loopback phone playing its own tone and
recording what it hears; the supervisor's tone is present or absent on each
leg exactly as the mode says, and the supervisor hears agent and caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update

from cti import dialplan
from cti.db.models import User
from cti.db.repository import make_engine
from cti.server import Running, running_hotline
from tests.support.agent_client import Agent, ready_in_asterisk, talking
from tests.support.pbx_fixture import AmiMessage, Pbx
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.tones import duration_s, tone_frames

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
    hotline, pbx: Pbx, demo_password, demo_secrets
) -> None:
    running: Running = hotline
    async with aiohttp.ClientSession() as http, await pbx.ami() as ami:
        agent = Agent(http, running.web_url, "1001")
        supervisor = Agent(http, running.web_url, "supervisor")
        other = Agent(http, running.web_url, "1002")
        await agent.login(demo_password)
        await supervisor.login(demo_secrets.supervisor_password)
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
                    spyer_at = (start["SpyerContext"], start["SpyerExten"])
                    assert spyer_at == (dialplan.SPY_CONTEXT, mode)
                    await ami.wait_event(
                        spy_of(spyer, agent_channel, "ChanSpyStop"), timeout=15, since=since
                    )
                    await spy_phone.wait_completed(count, timeout=10)
                assert call.answered
                assert running.hotline.core.calls[call_id].state.value == "talking"
                await agent.post(f"/api/calls/{call_id}/hangup")
                await call.wait(20)
    entries = await running.hotline.supervision.audit_entries(limit=100)
    assert [(e.username, e.action, e.target, e.detail["mode"]) for e in entries] == [
        ("supervisor", "supervisor.monitor", "1001", mode)
        for mode in ("barge", "whisper", "listen")
    ]
    assert {e.detail["agent_channel"] for e in entries} == {agent_channel}
    assert {e.detail["call_id"] for e in entries} == {call_id}


# ---------------------------------------------------------------- what each leg hears
#
# Every leg is a loopback phone of the test Asterisk (tests/support/pbx_fixture.py,
# [hotline-looptest]): it plays its own tone and records what it receives from the
# hotline. Caller 440 Hz (an originated call to the hotline through the trunk),
# agent 620 Hz (agent 1001's phone is PJSIP/loopagent), supervisor 1020 Hz
# (PJSIP/loopsuper, hangs up after 6 s, which ends the spy).
CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440, 620, 1020
#: a frame "has" a tone when at least this share of its energy is at that frequency
PRESENT = 0.05
HEARS_SUPERVISOR = {
    # mode: (caller hears the supervisor, agent hears the supervisor)
    "listen": (False, False),
    "whisper": (False, True),
    "barge": (True, True),
}


@pytest.fixture
async def loop_hotline(hotline_settings) -> AsyncIterator[Running]:
    """The hotline with agent 1001 and the supervisor on loopback phones."""
    engine = make_engine(hotline_settings.effective_database_url)
    async with engine.begin() as conn:
        for user, interface in (("1001", "PJSIP/loopagent"), ("supervisor", "PJSIP/loopsuper")):
            await conn.execute(
                update(User).where(User.username == user).values(interface=interface)
            )
    await engine.dispose()
    async with running_hotline(hotline_settings) as running:
        yield running


def recordings(pbx: Pbx, hz: int) -> list[Path]:
    """The loopback recordings of the legs playing ``hz``, oldest first (by uniqueid)."""
    files = pbx.settings.recordings_dir.glob(f"looptest-{hz}-*.wav")
    heard = [f for f in files if not f.stem.endswith("-both")]
    return sorted(heard, key=lambda f: float(f.stem.split("-", 2)[2]))


def uniqueid(path: Path) -> str:
    return path.stem.split("-", 2)[2]


def share_with(frames: list[float]) -> float:
    """Share of frames in which the tone is present."""
    return sum(1 for f in frames if f >= PRESENT) / len(frames) if frames else 0.0


async def test_each_mode_lets_exactly_the_right_legs_hear_the_supervisor(
    loop_hotline, pbx: Pbx, demo_password, demo_secrets
) -> None:
    running: Running = loop_hotline
    windows: dict[str, tuple[float, float]] = {}
    async with aiohttp.ClientSession() as http, await pbx.ami() as ami:
        agent = Agent(http, running.web_url, "1001")
        supervisor = Agent(http, running.web_url, "supervisor")
        await agent.login(demo_password)
        await supervisor.login(demo_secrets.supervisor_password)
        assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await ready_in_asterisk(running, "1001")
        reply = await ami.action(
            "Originate",
            Channel=f"PJSIP/trunk/sip:4000@127.0.0.1:{running.settings.sip_port}",
            Context="hotline-looptest",
            Exten="loopcaller",
            Priority="1",
            CallerID="15550100001",
            Timeout="10000",
            Async="true",
        )
        assert reply.get("Response") == "Success", reply
        # no DTMF: the IVR's menu times out and the call goes to the general queue
        call_id = await talking(running, "1001")
        for mode in HEARS_SUPERVISOR:
            since = len(ami.events)
            status, body = await supervisor.post(
                "/api/supervisor/monitor", {"agent": "1001", "mode": mode}
            )
            assert status == 200, body
            start = await ami.wait_event(
                lambda m: (
                    m.event == "ChanSpyStart"
                    and (m.get("SpyerChannel") or "").startswith("PJSIP/loopsuper-")
                    and (m.get("SpyeeChannel") or "").startswith("PJSIP/loopagent-")
                ),
                timeout=15,
                since=since,
            )
            assert start["SpyerExten"] == mode
            stop = await ami.wait_event(
                lambda m, spyer=start["SpyerChannel"]: (
                    m.event == "ChanSpyStop" and m.get("SpyerChannel") == spyer
                ),
                timeout=20,
                since=since,
            )
            windows[mode] = (float(start["Timestamp"]), float(stop["Timestamp"]))
        since = len(ami.events)
        status, body = await agent.post(f"/api/calls/{call_id}/hangup")
        assert status == 200, body
        [caller_file], [agent_file] = recordings(pbx, CALLER_HZ), recordings(pbx, AGENT_HZ)
        supervisor_files = recordings(pbx, SUPERVISOR_HZ)
        assert len(supervisor_files) == 3
        ends: dict[str, float] = {}
        for leg in (uniqueid(caller_file), uniqueid(agent_file)):
            hangup = await ami.wait_event(
                lambda m, uid=leg: m.event == "Hangup" and m.get("Uniqueid") == uid,
                timeout=15,
                since=since,
            )
            ends[leg] = float(hangup["Timestamp"])

    def frames(path: Path, hz: int, window: tuple[float, float]) -> list[float]:
        # the file ends when its leg hung up: place the window from the end
        end = ends[uniqueid(path)]
        length = duration_s(path)
        start, stop = window
        return tone_frames(path, hz, length - (end - start) + 1.0, length - (end - stop) - 0.5)

    report = {}
    for mode in HEARS_SUPERVISOR:
        caller_share = share_with(frames(caller_file, SUPERVISOR_HZ, windows[mode]))
        agent_share = share_with(frames(agent_file, SUPERVISOR_HZ, windows[mode]))
        control = share_with(frames(caller_file, AGENT_HZ, windows[mode]))
        report[mode] = (caller_share, agent_share, control)
    spy_legs = {}
    for mode, path in zip(HEARS_SUPERVISOR, supervisor_files, strict=True):
        length = duration_s(path)
        spy_legs[mode] = (
            share_with(tone_frames(path, AGENT_HZ, 1.0, length - 0.5)),
            share_with(tone_frames(path, CALLER_HZ, 1.0, length - 0.5)),
        )
    print("share of frames with the supervisor's tone (caller, agent, caller hears agent):")
    print(report)
    print("supervisor hears (agent, caller):", spy_legs)
    for mode, (caller_hears, agent_hears) in HEARS_SUPERVISOR.items():
        caller_share, agent_share, control = report[mode]
        assert control > 0.9, (mode, "the caller does not hear the agent", report)
        assert (caller_share > 0.8) is caller_hears and (caller_share < 0.05) is not caller_hears, (
            mode,
            report,
        )
        assert (agent_share > 0.8) is agent_hears and (agent_share < 0.05) is not agent_hears, (
            mode,
            report,
        )
        heard_agent, heard_caller = spy_legs[mode]
        assert heard_agent > 0.8 and heard_caller > 0.8, (mode, spy_legs)
