"""Fault: Asterisk is killed (SIGKILL) while an agent talks to a caller.

Real Asterisk, real SIP calls (sipp caller and agent phone). After Asterisk
comes back the CTI resyncs by itself: its members are back in Asterisk, no
ghost call is left, the call that died has exactly one CDR with its
recording, and the next call pops on the agent's socket and is recorded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
import pytest

from cti.domain.model import AgentState
from cti.pbx import runtime
from cti.server import Running
from tests.support.agent_client import Agent
from tests.support.fault_desk import all_cdr_ids, cdr_rows, next_of_type
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


def members_in_core(running: Running, agent: str) -> bool:
    core = running.hotline.core
    return all(
        (m := core.queues[q].members.get(agent)) is not None and not m.paused
        for q in core.agents[agent].queues
    )


async def test_kill_9_of_asterisk_mid_call_resyncs_and_keeps_one_cdr_with_its_recording(
    hotline, demo_password, capsys
) -> None:
    running: Running = hotline
    service, core = running.hotline, running.hotline.core
    settings = running.settings
    async with (
        aiohttp.ClientSession() as http,
        AgentPhone(port=agent_port(1001), answer_after_s=0.3) as phone,
    ):
        agent = Agent(http, running.web_url, "1001")
        await agent.login(demo_password)
        assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await wait_until(lambda: members_in_core(running, "1001"), within=10, what="1001 ready")
        async with agent.frames() as ws:
            await next_of_type(ws, "hello", 5)
            call = await start_call(
                settings.sip_port, caller_number="15550100001", dtmf="11", talk_s=60
            )
            async with call:
                pop = await next_of_type(ws, "screen.pop", 40)
                call_id = pop["call_id"]
                await wait_until(
                    lambda: core.agents["1001"].state is AgentState.TALKING,
                    within=30,
                    what="agent 1001 talking",
                )
                await phone.wait_answered(timeout=10)
                live = core.calls[call_id]
                assert live.recording_path and live.recording_path.endswith(f"/{call_id}.wav")
                recording = settings.recordings_dir.resolve() / f"{call_id}.wav"
                # some audio reaches the file before the crash
                await wait_until(
                    lambda: recording.exists() and recording.stat().st_size > 8000,
                    within=15,
                    what="MixMonitor to write audio",
                )
                generation = running.ami.generation

                pid = runtime.status(settings).pid
                assert pid is not None
                killed_at = time.monotonic()
                os.kill(pid, signal.SIGKILL)  # no Hangup events, no CDR from Asterisk
                await wait_until(
                    lambda: not service.synced.is_set(), within=10, what="the CTI to notice"
                )
                noticed_s = time.monotonic() - killed_at
                await asyncio.to_thread(runtime.start, settings)
                started_at = time.monotonic()
                await wait_until(
                    lambda: running.ami.generation > generation and service.synced.is_set(),
                    within=30,
                    what="the CTI to reconnect and resync",
                )
                synced_at = time.monotonic()
                await wait_until(
                    lambda: members_in_core(running, "1001"),
                    within=10,
                    what="agent 1001 back in its queues",
                )
                members_at = time.monotonic()
                await call.wait(30)  # the crash ended the caller's call

            # no ghost call; the agent is free again
            assert core.calls == {}
            channels = await running.ami.list_action({"Action": "CoreShowChannels"})
            assert [c for c in channels if c.get("Event") == "CoreShowChannel"] == []
            assert core.agents["1001"].call_id is None
            assert core.agents["1001"].state is not AgentState.TALKING

            # the call that died: one CDR, its recording linked and on disk
            await service.drain()
            assert await cdr_rows(service.repository, call_id) == 1
            cdr = await service.repository.cdr(call_id)
            assert cdr is not None
            assert (cdr.queue, cdr.agent_id) == ("billing", "1001")
            assert cdr.recording_path == str(recording)
            assert recording.exists() and recording.stat().st_size > 8000

            # a new call after the restart pops and is recorded
            if core.agents["1001"].state is not AgentState.READY:
                assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
            await wait_until(
                lambda: (
                    core.agents["1001"].state is AgentState.READY
                    and members_in_core(running, "1001")
                ),
                within=30,
                what="agent 1001 ready again",
            )
            again = await start_call(
                settings.sip_port, caller_number="15550100002", dtmf="11", talk_s=3
            )
            async with again:
                pop = await next_of_type(ws, "screen.pop", 40)
                second_id = pop["call_id"]
                assert second_id != call_id
                result = await again.wait(60)
                assert result.answered, result.describe()
    await wait_until(lambda: second_id not in core.calls, within=20, what="the call to end")
    await service.drain()
    second = await service.repository.cdr(second_id)
    assert second is not None and second.agent_id == "1001"
    second_recording = settings.recordings_dir.resolve() / f"{second_id}.wav"
    assert second.recording_path == str(second_recording)
    await wait_until(
        lambda: second_recording.exists() and second_recording.stat().st_size > 8000,
        within=10,
        what="the second call's recording",
    )
    ids = await all_cdr_ids(service.repository)
    assert len(ids) == len(set(ids)), "a CDR was stored twice"
    with capsys.disabled():
        print(
            f"\n[faults] kill -9 of Asterisk: CTI noticed in {noticed_s:.2f} s; "
            f"resynced {synced_at - started_at:.2f} s after Asterisk was up "
            f"(members back {members_at - started_at:.2f} s); "
            f"kill to resync {synced_at - killed_at:.2f} s"
        )
