"""The screen-pop's database lookups: one per call, a few at a time.

A call's customer row and the caller's last calls are looked up once, when
the call arrives, and every offer of the call and every socket of the agent
share that one result (the desktop keeps one task per call id). This module
bounds how many of those lookups hold a database connection at once, so a
burst of calls never takes the whole pool from the CDR writer, the IVR or
the logins; a lookup that cannot get its turn within its wait is given up
(``LookupBusy``) instead of piling up. The pop itself never waits for any of
this: it goes out at once, marked pending, and an update follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class LookupBusy(RuntimeError):
    """No lookup slot came free within the lookup's wait."""


class BoundedLookups:
    """At most ``limit`` lookups at once; the others wait their turn, in order."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one lookup must be allowed at a time")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self.running = 0  # lookups holding a slot now
        self.waiting = 0  # lookups waiting for one
        self.given_up = 0  # lookups that never got a slot within their wait
        self._holding: set[str] = set()  # keys of the lookups holding a slot

    def is_running(self, key: str) -> bool:
        """Has the lookup run with ``key`` got its turn (and not finished)?"""
        return key in self._holding

    async def run(
        self, lookup: Callable[[], Awaitable[T]], wait_s: float | None = None, key: str = ""
    ) -> T:
        """``lookup()`` once a slot is free; ``LookupBusy`` if none frees within ``wait_s``.

        Cancelling it while it waits for its turn is safe and costs the database nothing.
        """
        self.waiting += 1
        try:
            if wait_s is None:
                await self._slots.acquire()
            else:
                try:
                    async with asyncio.timeout(wait_s):
                        await self._slots.acquire()
                except TimeoutError:
                    self.given_up += 1
                    raise LookupBusy(
                        f"{self.running} lookups running and {self.waiting - 1} waiting: "
                        f"no turn within {wait_s:g} s"
                    ) from None
        finally:
            self.waiting -= 1
        self.running += 1
        self._holding.add(key)
        try:
            return await lookup()
        finally:
            self.running -= 1
            self._holding.discard(key)
            self._slots.release()
