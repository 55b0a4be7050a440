"""The screen-pop's database lookups take turns, and the event loop's watch."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from cti.service.lookups import BoundedLookups, LookupBusy
from cti.service.loop_watch import LoopWatch
from tests.support.waiting import wait_until


async def test_no_more_lookups_run_at_once_than_the_limit_allows() -> None:
    lookups = BoundedLookups(3)
    release = asyncio.Event()
    running, most = 0, 0

    async def lookup() -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return 7

    tasks = [asyncio.create_task(lookups.run(lookup)) for _ in range(10)]
    await wait_until(lambda: lookups.running == 3, within=2, what="three lookups running")
    assert lookups.waiting == 7
    release.set()
    assert await asyncio.gather(*tasks) == [7] * 10
    assert most == 3
    assert (lookups.running, lookups.waiting) == (0, 0)


async def test_a_lookup_that_gets_no_turn_within_its_wait_gives_up_with_a_clear_error() -> None:
    lookups = BoundedLookups(1)
    release = asyncio.Event()
    holder = asyncio.create_task(lookups.run(release.wait))
    await wait_until(lambda: lookups.running == 1, within=2, what="the slot taken")
    started = False

    async def never_started() -> None:
        nonlocal started
        started = True

    with pytest.raises(LookupBusy, match="no turn within 0.05 s"):
        await lookups.run(never_started, wait_s=0.05)
    assert not started and lookups.given_up == 1 and lookups.waiting == 0
    release.set()
    await holder
    # the slot is free again: the next lookup runs
    assert await lookups.run(lambda: asyncio.sleep(0, result="ok"), wait_s=0.05) == "ok"


async def test_a_failing_lookup_gives_its_turn_back() -> None:
    lookups = BoundedLookups(1)

    async def broken() -> None:
        raise ConnectionError("database gone")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await lookups.run(broken, wait_s=0.5)
    assert await lookups.run(lambda: asyncio.sleep(0, result=1), wait_s=0.5) == 1


def test_at_least_one_lookup_must_be_allowed() -> None:
    with pytest.raises(ValueError):
        BoundedLookups(0)


async def test_a_blocked_event_loop_is_logged_with_what_blocked_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LoopWatch(warn_s=0.2, tick_s=0.05)
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.1)  # the watch is ticking
    with caplog.at_level(logging.WARNING, logger="cti.service.loop_watch"):
        time.sleep(0.6)  # noqa: ASYNC251 (a callback that blocks the loop)
        await wait_until(lambda: watch.stalls >= 1, within=2, what="the late tick")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert watch.stalls >= 1 and watch.worst_lag_s >= 0.4
    assert any("time.sleep(0.6)" in stack for stack in watch.stacks), watch.stacks
    assert "a tick ran" in caplog.text and "the loop thread is at" in caplog.text


async def test_a_loop_that_keeps_up_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(warn_s=0.5, tick_s=0.02)
    with caplog.at_level(logging.WARNING, logger="cti.service.loop_watch"):
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert watch.stalls == 0 and watch.stacks == [] and caplog.text == ""
