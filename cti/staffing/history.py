"""Read the stored CDRs a staffing forecast needs (the only SQL of staffing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.db.models import CallRecord, User
from cti.staffing.forecast import PastCall, day_bounds


def _epoch(at: datetime) -> float:
    # SQLite gives back naive datetimes (stored in UTC); PostgreSQL aware ones
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def past_calls(
    engine: AsyncEngine, days: Sequence[date], tz: tzinfo
) -> tuple[list[PastCall], float | None]:
    """The offered calls (they joined a queue) of ``days`` (local days in ``tz``),
    and when the first stored call of any kind came in (None: no CDR at all).

    Handle time is the CDR's talk time plus the answering agent's wrap-up
    setting (the time the agent stays out of the queues after the call).
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    windows = [day_bounds(d, tz) for d in days]
    async with sessions() as session:
        first = await session.scalar(select(func.min(CallRecord.entered_at)))
        wrap_up = {
            u.username: u.wrap_up_s
            for u in await session.scalars(select(User).where(User.role == "agent"))
        }
        calls: list[PastCall] = []
        if windows:
            query = select(
                CallRecord.queue,
                CallRecord.queued_at,
                CallRecord.answered_at,
                CallRecord.wait_s,
                CallRecord.talk_s,
                CallRecord.agent_id,
            ).where(
                CallRecord.queue.is_not(None),
                CallRecord.queued_at.is_not(None),
                or_(
                    *(
                        CallRecord.queued_at.between(_utc(start), _utc(end))
                        for start, end in windows
                    )
                ),
            )
            for queue, queued_at, answered_at, wait_s, talk_s, agent_id in (
                await session.execute(query)
            ).all():
                if queue is None or queued_at is None:  # excluded by the query
                    continue
                answered = answered_at is not None
                calls.append(
                    PastCall(
                        queue=queue,
                        queued_at=_epoch(queued_at),
                        answered=answered,
                        wait_s=wait_s,
                        handle_s=talk_s + wrap_up.get(agent_id or "", 0.0) if answered else 0.0,
                    )
                )
    return calls, (None if first is None else _epoch(first))
