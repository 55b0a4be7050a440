"""Password checks: a bounded pool of low-priority threads, the waiting checks
served by rank, a full list refusing the worst-ranked check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor

import pytest

from cti.web.password_checks import ChecksBusy, PasswordChecks
from tests.support.waiting import wait_until


class Gate:
    """A blocking function the test opens: records the order checks ran in."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.started = threading.Event()
        self.order: list[str] = []

    def check(self, name: str) -> str:
        self.order.append(name)
        self.started.set()
        assert self.opened.wait(10)
        return name


def threads() -> Executor:
    """A thread: the gate's events cannot cross to another process."""
    return ThreadPoolExecutor(max_workers=1)


@pytest.fixture
async def checks() -> AsyncIterator[PasswordChecks]:
    pool = PasswordChecks(workers=1, max_waiting=3, make_pool=threads)
    yield pool
    pool.close()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiting_checks_run_by_rank_then_arrival(checks: PasswordChecks) -> None:
    gate = Gate()
    first = asyncio.create_task(checks.run(5, gate.check, "first"))
    await asyncio.to_thread(gate.started.wait, 10)
    later = [
        asyncio.create_task(checks.run(rank, gate.check, name))
        for rank, name in ((2, "rank2-a"), (0, "clean"), (2, "rank2-b"))
    ]
    await settle()
    assert (checks.running, checks.waiting) == (1, 3)
    gate.opened.set()
    assert await asyncio.gather(first, *later) == ["first", "rank2-a", "clean", "rank2-b"]
    assert gate.order == ["first", "clean", "rank2-a", "rank2-b"]
    assert (checks.running, checks.waiting) == (0, 0)


async def test_a_full_list_refuses_a_check_no_better_than_the_worst_waiting(
    checks: PasswordChecks,
) -> None:
    gate = Gate()
    running = asyncio.create_task(checks.run(0, gate.check, "running"))
    await asyncio.to_thread(gate.started.wait, 10)
    waiting = [asyncio.create_task(checks.run(1, gate.check, f"w{i}")) for i in range(3)]
    await settle()
    assert checks.would_refuse(1) and not checks.would_refuse(0)
    with pytest.raises(ChecksBusy):
        await checks.run(1, gate.check, "refused")
    assert checks.waiting == 3
    gate.opened.set()
    await asyncio.gather(running, *waiting)
    assert "refused" not in gate.order


async def test_a_better_ranked_check_takes_the_place_of_the_worst_waiting(
    checks: PasswordChecks,
) -> None:
    gate = Gate()
    running = asyncio.create_task(checks.run(0, gate.check, "running"))
    await asyncio.to_thread(gate.started.wait, 10)
    flood = [asyncio.create_task(checks.run(3, gate.check, f"flood{i}")) for i in range(3)]
    await settle()
    clean = asyncio.create_task(checks.run(0, gate.check, "clean"))
    await settle()
    # the last flood check to arrive was refused, the clean one runs next
    assert flood[2].done() and isinstance(flood[2].exception(), ChecksBusy)
    assert checks.waiting == 3
    gate.opened.set()
    assert await clean == "clean"
    await asyncio.gather(running, *flood[:2])
    assert gate.order == ["running", "clean", "flood0", "flood1"]


async def test_a_cancelled_waiting_check_leaves_the_list_and_frees_nothing_twice(
    checks: PasswordChecks,
) -> None:
    gate = Gate()
    running = asyncio.create_task(checks.run(0, gate.check, "running"))
    await asyncio.to_thread(gate.started.wait, 10)
    gone = asyncio.create_task(checks.run(1, gate.check, "gone"))
    kept = asyncio.create_task(checks.run(2, gate.check, "kept"))
    await settle()
    gone.cancel()
    await settle()
    assert checks.waiting == 1
    gate.opened.set()
    assert await kept == "kept"
    await running
    assert gate.order == ["running", "kept"]
    assert (checks.running, checks.waiting) == (0, 0)
    # the pool is whole again: a new check runs at once
    assert await checks.run(9, gate.check, "again") == "again"


async def test_a_check_cancelled_as_it_got_its_thread_passes_the_thread_on() -> None:
    granted: list[asyncio.Task[str]] = []

    class CancelOnGrant(PasswordChecks):
        def _release(self) -> None:
            super()._release()  # the thread goes to "granted"...
            if granted and not granted[0].done():
                granted[0].cancel()  # ...which is cancelled before it wakes up

    checks = CancelOnGrant(workers=1, max_waiting=3, make_pool=threads)
    gate = Gate()
    try:
        running = asyncio.create_task(checks.run(0, gate.check, "running"))
        await asyncio.to_thread(gate.started.wait, 10)
        granted.append(asyncio.create_task(checks.run(1, gate.check, "granted")))
        after = asyncio.create_task(checks.run(2, gate.check, "after"))
        await settle()
        gate.opened.set()
        async with asyncio.timeout(10):  # a thread lost would leave "after" waiting
            assert await running == "running"
            assert await after == "after"
        with pytest.raises(asyncio.CancelledError):
            await granted[0]
        assert gate.order == ["running", "after"]
        assert (checks.running, checks.waiting) == (0, 0)
    finally:
        checks.close()


async def test_checks_run_in_a_process_of_a_raised_nice_value() -> None:
    pool = PasswordChecks(workers=1, max_waiting=1, nice=7)
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        pid, nice = await pool.run(0, os.getpid), await pool.run(0, os.nice, 0)
        assert pid != os.getpid()  # not a thread of the server's: no GIL shared
        assert nice == min(19, own + 7)
        assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the server's own is kept
    finally:
        pool.close()


async def test_a_dead_worker_refuses_its_check_as_busy_and_the_next_one_runs() -> None:
    pool = PasswordChecks(workers=1, max_waiting=1, nice=0)
    try:
        worker = await pool.run(0, os.getpid)
        with pytest.raises(ChecksBusy):
            await pool.run(0, os.kill, worker, signal.SIGKILL)
        assert await pool.run(0, os.getpid) != worker
    finally:
        pool.close()


SERVER = """
import asyncio, os, sys
from cti.web.password_checks import PasswordChecks

async def main():
    checks = PasswordChecks(workers=1, max_waiting=1, nice=0)
    print(await checks.run(0, os.getpid), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""


async def test_a_checking_process_ends_when_its_server_is_killed() -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    try:
        async with asyncio.timeout(20):
            worker = int(await server.stdout.readline())
        assert worker != server.pid
        server.kill()  # (its pipes stay open while the worker lives: not waited for)
        await wait_until(lambda: not alive(worker), within=10, what="the worker to end")
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and reaped already
            server.kill()
        assert server.stdin is not None
        server.stdin.close()  # our end of its pipe, closed before the loop is
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                # its stdout ends when the worker, which shares it, has ended too
                await server.stdout.read()
                await server.wait()
        with contextlib.suppress(ConnectionError):
            await server.stdin.wait_closed()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # an exited child of a dead parent is reaped by init; a zombie is gone too
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        PasswordChecks(workers=0)
