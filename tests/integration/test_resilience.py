"""Asterisk restarts under a running CTI; wrong AMI credentials."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from cti.domain.model import AgentState, Disposition
from cti.pbx import runtime
from cti.server import running_hotline
from tests.support.sipp import AgentPhone, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


def asterisk_members(queue_status: list) -> set[tuple[str, str, bool]]:
    return {
        (m["Queue"], m["Name"], m.get("Paused") == "1")
        for m in queue_status
        if m.get("Event") == "QueueMember"
    }


def core_members(core) -> set[tuple[str, str, bool]]:
    return {
        (queue.name, member.agent_id, member.paused)
        for queue in core.queues.values()
        for member in queue.members.values()
    }


def wanted_members(core) -> set[tuple[str, str, bool]]:
    return {
        (queue, agent.agent_id, agent.state is not AgentState.READY)
        for agent in core.agents.values()
        if agent.state is not AgentState.LOGGED_OUT
        for queue in agent.queues
    }


def kill_asterisk(settings) -> None:
    """A crash: SIGKILL, so Asterisk sends no Hangup events before it goes."""
    pid = runtime.status(settings).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        # a clean stop hangs the caller up first: the CTI sees it and logs the abandon
        ("stop", Disposition.ABANDONED),
        # a crash: the call vanishes unseen; resync closes it as lost
        ("kill", Disposition.LOST),
    ],
)
async def test_asterisk_restart_cti_reconnects_and_resyncs(
    hotline, pbx_settings, how: str, expected: Disposition
) -> None:
    running = hotline
    service, core = running.hotline, running.hotline.core
    service.desk.login("1001")
    service.desk.ready("1001")
    service.desk.login("1003")
    service.desk.pause("1003", "lunch")
    await wait_until(
        lambda: core_members(core) == wanted_members(core),
        within=10,
        what="Asterisk to hold the members the CTI asked for",
    )
    # A caller waits in a queue with nobody to answer (1004 serves technical but is logged out).
    call = await start_call(
        pbx_settings.sip_port, caller_number="15550100002", dtmf="12", dtmf_gap_s=1.0, talk_s=60
    )
    await wait_until(
        lambda: any(c.queue == "technical" for c in core.calls.values()),
        within=30,
        what="the caller to wait in queue technical",
    )
    waiting_call = next(iter(core.calls))
    generation = running.ami.generation

    if how == "stop":
        await asyncio.to_thread(runtime.stop, pbx_settings)
    else:
        kill_asterisk(pbx_settings)
    await wait_until(lambda: not service.synced.is_set(), within=10, what="the CTI to notice")
    await asyncio.to_thread(runtime.start, pbx_settings)
    await wait_until(
        lambda: running.ami.generation > generation and service.synced.is_set(),
        within=30,
        what="the CTI to reconnect and resync by itself",
    )
    await call.wait(30)  # the restart ended the caller's call

    # Agents and queues: what Asterisk reports equals what the CTI holds and wants.
    status = await running.ami.list_action({"Action": "QueueStatus"})
    await wait_until(
        lambda: core_members(core) == wanted_members(core),
        within=10,
        what="the CTI to re-add its members",
    )
    status = await running.ami.list_action({"Action": "QueueStatus"})
    assert asterisk_members(status) == wanted_members(core) == core_members(core)
    assert ("general", "1003", True) in asterisk_members(status)
    # Calls: Asterisk has none after its restart, so neither has the CTI.
    channels = await running.ami.list_action({"Action": "CoreShowChannels"})
    assert [c for c in channels if c.get("Event") == "CoreShowChannel"] == []
    assert core.calls == {}
    await service.drain()
    cdr = await service.repository.cdr(waiting_call)
    assert cdr is not None
    assert cdr.disposition == expected.value
    assert cdr.queue == "technical"


async def test_wrong_ami_secret_makes_serve_exit_nonzero(pbx_settings, tmp_path) -> None:
    env = dict(os.environ)
    env.update(
        HOTLINE_AMI_SECRET="definitely-wrong",
        HOTLINE_AMI_PORT=str(pbx_settings.ami_port),
        HOTLINE_AGI_PORT="0",
        HOTLINE_WEB_PORT="0",
        HOTLINE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    env.pop("HOTLINE_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            _, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 3
    assert "refused" in stderr.decode()


async def test_cti_restart_loses_no_cdr(hotline_settings) -> None:
    """A call that ends while the CTI is down still gets its CDR."""
    async with running_hotline(hotline_settings) as running:
        core = running.hotline.core
        running.hotline.desk.login("1001")
        running.hotline.desk.ready("1001")
        await wait_until(
            lambda: ("billing", "1001", False) in core_members(core),
            within=10,
            what="agent 1001 ready in billing",
        )
        phone = AgentPhone(port=51001, answer_after_s=0.3)
        await phone.start()
        try:
            call = await start_call(
                hotline_settings.sip_port,
                caller_number="15550100001",
                dtmf="11",
                dtmf_gap_s=1.0,
                talk_s=5,
            )
            await wait_until(
                lambda: any(c.agent_id == "1001" for c in core.calls.values()),
                within=30,
                what="the call to be answered by agent 1001",
            )
            call_id = next(iter(core.calls))
        except BaseException:
            await phone.stop()
            raise
    # The CTI is down now; the call goes on and ends without it.
    try:
        result = await call.wait(60)
        assert result.answered
    finally:
        await phone.stop()
    async with running_hotline(hotline_settings) as running:
        assert running.hotline.backfill is not None
        await running.hotline.backfill
        cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None, "the CDR of the call that ended during the outage is missing"
    assert cdr.recovered
    assert (cdr.queue, cdr.agent_id, cdr.disposition) == ("billing", "1001", "answered")
    assert "menu=1" in cdr.ivr_path
    assert cdr.talk_s > 0
