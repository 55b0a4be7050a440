"""Password checks in a few low-priority processes of their own, bounded, cleanest first.

A flood of logins must not take the CPU that AMI events, screen-pops and
agents' commands need, nor keep a right password out:

* the checks run in a dedicated pool of ``workers`` processes whose OS
  priority is lowered (``nice``), so the event loop, Asterisk and the phones
  are scheduled before them on a busy machine. Processes, not threads: a
  low-priority thread that the scheduler preempts while it holds the GIL
  would hold up the event loop's thread with it (priority inversion; seen as
  pops 0.2-0.7 s late under load). The pool is spawned (nothing of the
  server's memory is copied) on the first check; if a worker dies, the pool
  is made anew and the check under way is refused as busy; a worker whose
  server is gone (killed) ends itself within a second;
* at most ``max_waiting`` checks wait for a thread; past that a check is
  refused at once (``ChecksBusy``: the login answers 503 ``busy``);
* waiting checks are served by ``rank`` (the login route ranks a login by its
  address's recent failures), then in arrival order; when the waiting list is
  full, a check with a better rank than the worst waiting one takes its place
  and that one is refused. A login from an address that has not failed is
  thus checked next even while a flood fills the list.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

__all__ = ["ChecksBusy", "PasswordChecks", "low_priority_processes"]

T = TypeVar("T")

#: how often a checking process looks whether the server is still there
ORPHAN_CHECK_S = 1.0


class ChecksBusy(RuntimeError):
    """Too many checks wait already (and none of them ranks worse than this one)."""


def low_priority_processes(workers: int, nice: int) -> Executor:
    """``workers`` spawned processes whose nice value is raised by ``nice``."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(max(0, nice),),
    )


def _start_worker(nice: int) -> None:
    """In a checking process: lower its priority; end it when the server is gone
    (killed with SIGKILL, the server cannot stop its workers itself)."""
    os.nice(nice)
    server = os.getppid()

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


class PasswordChecks:
    """``make_pool()`` makes the executor (default: ``low_priority_processes``)."""

    def __init__(
        self,
        workers: int = 1,
        max_waiting: int = 64,
        nice: int = 19,
        make_pool: Callable[[], Executor] | None = None,
    ) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("workers must be >= 1 and max_waiting >= 0")
        self.workers, self.max_waiting = workers, max_waiting
        self._make_pool = make_pool or (lambda: low_priority_processes(workers, nice))
        self._pool: Executor | None = None
        self._running = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def would_refuse(self, rank: int) -> bool:
        """True when a check of ``rank`` would be refused now (nothing changes)."""
        if self._running < self.workers and not self._waiting:
            return False
        if len(self._waiting) < self.max_waiting:
            return False
        return not self._waiting or max(self._waiting)[0] <= rank

    async def run(self, rank: int, func: Callable[..., T], *args: object) -> T:
        """``func(*args)`` in a pool thread, after the checks ranked before it.

        Raises ``ChecksBusy`` when the waiting list is full of checks that rank
        no worse (at once, or later when a better-ranked check takes its place).
        """
        await self._turn(rank)
        try:
            if self._pool is None:
                self._pool = self._make_pool()
            pool = self._pool
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, func, *args)
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                if self._pool is pool:
                    self._pool = None
                    pool.shutdown(wait=False, cancel_futures=True)
                raise ChecksBusy("the password checker restarts") from exc
        finally:
            self._release()

    def close(self) -> None:
        for _, _, waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(ChecksBusy("shutting down"))
        self._waiting.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _turn(self, rank: int) -> None:
        if self._running < self.workers and not self._waiting:
            self._running += 1
            return
        if len(self._waiting) >= self.max_waiting:
            if not self._waiting or max(self._waiting)[0] <= rank:
                raise ChecksBusy("too many password checks wait already")
            worst = max(self._waiting)
            self._waiting.remove(worst)
            heapq.heapify(self._waiting)
            worst[2].set_exception(ChecksBusy("a better-ranked check took this place"))
        entry = (rank, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, entry)
        try:
            await entry[2]
        except asyncio.CancelledError:
            if entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            elif entry[2].done() and not entry[2].cancelled() and not entry[2].exception():
                self._release()  # granted a thread just as it was cancelled: pass it on
            raise

    def _release(self) -> None:
        """A check ended: its thread goes to the best-ranked waiting check."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # ``_running`` passes over unchanged
                return
        self._running -= 1
