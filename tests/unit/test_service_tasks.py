"""Task ownership: background failures are logged when they happen, fatal ones stop the service."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cti.service.tasks import TaskOwner


async def boom() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("boom")


async def test_a_failing_background_task_is_logged_at_once_and_the_rest_runs_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = TaskOwner()
    caplog.set_level(logging.ERROR, logger="cti.service.tasks")
    async with asyncio.TaskGroup() as group:
        owner.attach(group)
        failed = owner.spawn(boom(), "pop-update-c1")
        await asyncio.wait([failed])
        assert failed.result() is None
        assert "task pop-update-c1 failed" in caplog.text
        assert "RuntimeError: boom" in caplog.text
        fine = owner.spawn(asyncio.sleep(0, "done"), "other")
        assert await fine == "done"
        await owner.settle()
    owner.detach()


async def test_a_failing_fatal_task_stops_the_group_with_its_error() -> None:
    owner = TaskOwner()
    stopped = asyncio.Event()
    with pytest.raises(BaseExceptionGroup) as failure:
        async with asyncio.TaskGroup() as group:
            owner.attach(group)
            owner.start(boom(), "ami-actions")
            try:
                await asyncio.Event().wait()  # cancelled when the worker fails
            finally:
                stopped.set()
    assert stopped.is_set()
    (error,) = failure.value.exceptions
    assert isinstance(error, RuntimeError) and str(error) == "boom"


def test_nothing_starts_before_the_service_runs() -> None:
    owner = TaskOwner()
    coro = boom()
    with pytest.raises(RuntimeError, match="not running"):
        owner.spawn(coro, "early")
    coro.close()
