"""Fault: the disk under the database fills up while calls come and go.

The CTI's SQLite database lives on a small tmpfs of its own. A filler file
takes its last free byte during real calls: the CTI keeps popping calls
(reads still work), the CDR writer keeps the records and says in the log that
the database fails; once the filler is gone each CDR is written, once.
A tmpfs mount needs root (CAP_SYS_ADMIN), as the test suite runs in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from cti.config import Settings
from cti.server import running_hotline
from tests.support.agent_client import Agent
from tests.support.fault_desk import all_cdr_ids, cdr_rows, next_of_type
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk

CALLERS = ("15550100031", "15550100032")


@contextlib.contextmanager
def small_disk(where: Path, size: str = "8m") -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (needs root): {done.stderr}", pytrace=False)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; returns the filler file."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as out:
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), filler.open("ab") as out:
        while True:  # the last partial chunk
            out.write(b"\0" * 512)
            out.flush()
    return filler


async def test_cdrs_of_calls_while_the_disk_is_full_are_written_once_it_has_room(
    hotline_settings: Settings, demo_password: str, tmp_path: Path, caplog, capsys
) -> None:
    caplog.set_level(logging.WARNING, logger="cti.db.cdr_store")
    with small_disk(tmp_path / "disk") as disk:
        database = disk / "hotline.db"
        shutil.copy(tmp_path / "hotline.db", database)  # the seeded database
        settings = hotline_settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{database}"}
        )
        async with (
            running_hotline(settings) as running,
            aiohttp.ClientSession() as http,
            AgentPhone(port=agent_port(1001), answer_after_s=0.3) as phone1,
            AgentPhone(port=agent_port(1002), answer_after_s=0.3) as phone2,
        ):
            service, core = running.hotline, running.hotline.core
            agents = {a: Agent(http, running.web_url, a) for a in ("1001", "1002")}
            for agent in agents.values():
                await agent.login(demo_password)
                assert (await agent.post("/api/agent/state", {"state": "ready"}))[0] == 200
            await wait_until(
                lambda: all(core.agents[a].state.value == "ready" for a in agents),
                within=10,
                what="two agents ready",
            )
            async with agents["1001"].frames() as ws1, agents["1002"].frames() as ws2:
                await next_of_type(ws1, "hello", 5)
                await next_of_type(ws2, "hello", 5)
                filler = fill(disk)
                full_at = asyncio.get_running_loop().time()
                calls = [
                    await start_call(settings.sip_port, caller_number=c, dtmf="11", talk_s=2)
                    for c in CALLERS
                ]
                # the CTI keeps serving pops while nothing can be written
                pops = await asyncio.gather(
                    next_of_type(ws1, "screen.pop", 40), next_of_type(ws2, "screen.pop", 40)
                )
                call_ids = sorted(p["call_id"] for p in pops)
                for call in calls:
                    result = await call.wait(40)
                    assert result.answered, result.describe()
                await wait_until(
                    lambda: not core.calls, within=20, what="both calls to end in the CTI"
                )
                # the writer holds them and says the database fails
                await wait_until(
                    lambda: any("the database failed" in r.getMessage() for r in caplog.records),
                    within=10,
                    what="the log to say the database fails",
                )
                failing = [m for r in caplog.records if "database failed" in (m := r.getMessage())]
                assert any("full" in m for m in failing), failing
                metrics = service.metrics.exposition().decode()
                assert "hotline_database_failing 1.0" in metrics
                for call_id in call_ids:
                    assert await cdr_rows(service.repository, call_id) == 0
                outage_s = asyncio.get_running_loop().time() - full_at
                filler.unlink()  # room again
                freed_at = asyncio.get_running_loop().time()
                await asyncio.wait_for(service.drain(), timeout=40)
                written_s = asyncio.get_running_loop().time() - freed_at
                assert "hotline_database_failing 0.0" in service.metrics.exposition().decode()
            assert phone1.calls_answered + phone2.calls_answered == 2
            recordings = settings.recordings_dir.resolve()
            for call_id in call_ids:
                assert await cdr_rows(service.repository, call_id) == 1
                cdr = await service.repository.cdr(call_id)
                assert cdr is not None and cdr.disposition == "answered"
                assert cdr.recording_path == str(recordings / f"{call_id}.wav")
            # none doubled (the CDRs of earlier tests' calls on this Asterisk are
            # recovered from its CDR file at start, once each)
            ids = await all_cdr_ids(service.repository)
            assert len(ids) == len(set(ids))
        assert not settings.dead_letter_file.exists() or not any(
            i in settings.dead_letter_file.read_text() for i in call_ids
        )
    with capsys.disabled():
        print(
            f"\n[faults] disk full for {outage_s:.1f} s: CDRs written {written_s:.1f} s "
            "after room came back"
        )
