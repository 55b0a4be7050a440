"""IVR PIN failures in the database (table ``pin_failures``), under ivr.lockout's rule."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.db.models import PinFailureRecord
from ivr.lockout import LockoutPolicy, Strikes

__all__ = ["PinAttemptStore"]

log = logging.getLogger(__name__)


class PinAttemptStore:
    """Implements ivr.lockout.PinAttempts; one short transaction per call."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: LockoutPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.policy = policy
        self.clock = clock

    async def strikes(self, key: str) -> Strikes:
        async with self.sessions() as session:
            row = await session.get(PinFailureRecord, key)
        if row is None:
            return Strikes()
        return Strikes(row.failures, row.locked_until, row.updated_at)

    async def locked(self, keys: Sequence[str]) -> bool:
        now = self.clock()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PinFailureRecord).where(PinFailureRecord.key.in_(list(keys)))
            )
            return any(row.locked_until > now for row in rows)

    async def failed(self, keys: Sequence[str]) -> list[str]:
        now = self.clock()
        newly_locked: list[str] = []
        async with self.sessions() as session, session.begin():
            for key in keys:
                row = await session.get(PinFailureRecord, key, with_for_update=True)
                before = (
                    Strikes()
                    if row is None
                    else Strikes(row.failures, row.locked_until, row.updated_at)
                )
                after = self.policy.after_failure(before, now)
                if row is None:
                    row = PinFailureRecord(key=key)
                    session.add(row)
                row.failures, row.locked_until, row.updated_at = (
                    after.failures,
                    after.locked_until,
                    after.updated_at,
                )
                if self.policy.locked(after, now) and not self.policy.locked(before, now):
                    newly_locked.append(key)
            # forget counts nobody added to for a day (bounded table)
            await session.execute(
                delete(PinFailureRecord).where(
                    PinFailureRecord.updated_at < now - max(86400.0, self.policy.lockout_s),
                    PinFailureRecord.locked_until < now,
                )
            )
        for key in newly_locked:
            log.warning(
                "IVR PIN lockout: %s locked for %.0f s after %d wrong PINs",
                key,
                self.policy.lockout_s,
                self.policy.max_failures,
            )
        return newly_locked

    async def succeeded(self, keys: Sequence[str]) -> None:
        """A right PIN clears the account's count (a caller's stays: it may try others)."""
        accounts = [k for k in keys if k.startswith("account:")]
        if not accounts:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(PinFailureRecord).where(
                    PinFailureRecord.key.in_(accounts),
                    PinFailureRecord.locked_until <= self.clock(),
                )
            )
