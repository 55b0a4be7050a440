"""Task ownership: every task of the service runs in one ``asyncio.TaskGroup``.

A task is named. A *fatal* task (a worker the service cannot live without)
that fails takes the group down, and so the process. Any other task that
fails is logged when it fails, never only at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class TaskOwner:
    """Starts the service's tasks in the group given by :meth:`attach`."""

    def __init__(self) -> None:
        self._group: asyncio.TaskGroup | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def attach(self, group: asyncio.TaskGroup) -> None:
        self._group = group

    def detach(self) -> None:
        self._group = None

    @property
    def running(self) -> bool:
        return self._group is not None

    def start(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A fatal task: its failure stops the service."""
        return self._require().create_task(coro, name=name)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T | None]:
        """Background work (a pop, a CDR hand-over): a failure is logged at once.

        The task's result is ``None`` when it failed.
        """
        group = self._require()
        task = group.create_task(self._logged(coro, name), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def settle(self) -> None:
        """Wait until no background work is left (it may start more)."""
        while self._background:
            await asyncio.wait(list(self._background))

    def _require(self) -> asyncio.TaskGroup:
        if self._group is None:
            raise RuntimeError("the service is not running (start Hotline.run first)")
        return self._group

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, T], name: str) -> T | None:
        try:
            return await coro
        except Exception:
            log.exception("task %s failed", name)
            return None
