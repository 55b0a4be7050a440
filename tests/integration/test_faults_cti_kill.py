"""Fault: the CTI process is killed (SIGKILL) while calls talk and wait.

The CTI runs as its own process (``hotline serve``). With two callers talking
to agents and a third waiting, it is killed: the talking calls go on, the
waiting caller is served by app_queue (the dialplan's fallback when the CTI's
heartbeat is stale), and a restarted CTI resyncs: the live call is adopted,
the calls that ended meanwhile are recovered from Asterisk's CDR file, each
call has exactly one CDR with its recording, none duplicated.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from cti.config import Settings
from cti.domain.model import AgentState
from cti.server import running_hotline
from tests.support.agent_client import Agent
from tests.support.cti_process import CtiProcess
from tests.support.fault_desk import all_cdr_ids
from tests.support.pbx_fixture import Pbx
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk

CALLERS = ("15550100021", "15550100022", "15550100023")
#: seconds the dialplan waits for a silent CTI before app_queue takes a caller
#: (the shipped 20 s, shortened here to keep the test short)
GRACE_S = 8


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_kill_9_of_the_cti_with_calls_talking_and_waiting_loses_and_doubles_nothing(
    pbx: Pbx, hotline_settings: Settings, demo_password: str, tmp_path: Path, capsys
) -> None:
    token = secrets.token_urlsafe(16)
    settings = hotline_settings.model_copy(update={"metrics_bearer_token": SecretStr(token)})
    cti = CtiProcess(settings, tmp_path / "serve.log")
    ami = await pbx.ami(events="off")
    phones = [AgentPhone(port=agent_port(a), answer_after_s=0.3) for a in (1001, 1002)]

    def answered() -> int:
        return sum(p.calls_answered for p in phones)

    calls = []
    try:
        reply = await ami.action("Setvar", Variable="HOTLINE_CTI_GRACE", Value=str(GRACE_S))
        assert reply.get("Response") == "Success", reply
        for phone in phones:
            await phone.start()
        await cti.start()
        async with aiohttp.ClientSession() as http:

            async def metrics() -> str:
                async with http.get(
                    f"{cti.base}/metrics", headers={"Authorization": f"Bearer {token}"}
                ) as r:
                    assert r.status == 200
                    return await r.text()

            async def wait_metric(name: str, value: float, what: str, within: float) -> None:
                deadline = time.monotonic() + within
                while metric(await metrics(), name) != value:
                    assert time.monotonic() < deadline, f"timed out waiting for {what}"
                    await asyncio.sleep(0.1)

            for agent_id in ("1001", "1002"):
                agent = Agent(http, cti.base, agent_id)
                await agent.login(demo_password)
                assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
            await wait_metric('hotline_agents{state="ready"}', 2, "two agents ready", 10)
            for n, caller in enumerate(CALLERS[:2], start=1):
                calls.append(
                    await start_call(
                        settings.sip_port, caller_number=caller, dtmf="11", talk_s=8 + 4 * n
                    )
                )
                await wait_until(lambda n=n: answered() == n, within=40, what=f"call {n} answered")
            calls.append(
                await start_call(settings.sip_port, caller_number=CALLERS[2], dtmf="11", talk_s=120)
            )
            await wait_metric(
                'hotline_queue_waiting_calls{queue="billing"}', 1, "the third caller waiting", 40
            )

        cti.kill()
        killed_at = time.monotonic()
        assert await cti.wait() == -9
        # the talking calls go on; app_queue serves the waiting caller when an agent frees
        await wait_until(
            lambda: answered() == 3, within=GRACE_S + 30, what="app_queue to serve the third caller"
        )
        served_s = time.monotonic() - killed_at
        for call in calls[:2]:
            result = await call.wait(40)
            assert result.answered, result.describe()
        await ami.action("Setvar", Variable="HOTLINE_CTI_GRACE", Value="20")

        # a new CTI: adopts the live call, recovers the ended ones
        restarted_at = time.monotonic()
        async with running_hotline(settings) as running:
            service, core = running.hotline, running.hotline.core
            synced_s = time.monotonic() - restarted_at
            assert len(core.calls) == 1, core.calls  # the third caller, talking
            (live,) = core.calls.values()
            assert live.caller_number == CALLERS[2] and live.agent_id in {"1001", "1002"}
            assert core.agents[live.agent_id].state is AgentState.TALKING
            # the adopted call is the agent's to control: it hangs up
            async with aiohttp.ClientSession() as http:
                agent = Agent(http, running.web_url, live.agent_id)
                await agent.login(demo_password)
                status, answer = await agent.post(f"/api/calls/{live.call_id}/hangup")
                assert status == 200, answer
            result = await calls[2].wait(20)
            assert result.answered and result.remote_hangup, result.describe()
            await wait_until(lambda: not core.calls, within=20, what="no call left in the CTI")
            assert all(a.state is not AgentState.TALKING for a in core.agents.values())
            assert service.backfill is not None
            await service.backfill
            await service.drain()
            ids = await all_cdr_ids(service.repository)
            rows = [await service.repository.cdr(i) for i in ids]
    finally:
        await cti.stop()
        await ami.action("Setvar", Variable="HOTLINE_CTI_GRACE", Value="20")
        await ami.close()
        for phone in phones:
            await phone.stop()
        for call in calls:
            await call.stop()
    # earlier tests' calls are recovered from Asterisk's shared CDR file too: this
    # test's own calls are those from its callers' numbers
    assert len(ids) == len(set(ids)), "a CDR stored twice"
    mine = [r for r in rows if r is not None and r.caller_number in CALLERS]
    assert len(mine) == 3, [(r.call_id, r.caller_number) for r in mine]
    by_caller = {r.caller_number: r for r in mine}
    assert sorted(by_caller) == sorted(CALLERS)
    for caller, row in by_caller.items():
        assert row.disposition == "answered", (caller, row.disposition)
        assert row.queue == "billing" and row.agent_id in {"1001", "1002"}, caller
        recording = settings.recordings_dir.resolve() / f"{row.call_id}.wav"
        assert row.recording_path == str(recording), (caller, row.recording_path)
        assert recording.exists() and recording.stat().st_size > 8000, caller
    with capsys.disabled():
        print(
            f"\n[faults] kill -9 of the CTI: waiting caller served by app_queue "
            f"{served_s:.1f} s after the kill (grace {GRACE_S} s); restarted CTI synced in "
            f"{synced_s:.2f} s"
        )
