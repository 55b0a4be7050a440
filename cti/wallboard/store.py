"""Storage of the wallboard: the agent state log, alarms, and the facts reports read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.db.models import AgentStateRecord, AlarmRecord, CallRecord
from cti.kpi.alarms import Alarm
from cti.kpi.facts import CallFact, StateChange, ms


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes back; they are UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def fact_of_row(row: CallRecord) -> CallFact | None:
    """The KPI fact of a stored CDR (as ``cti.kpi.facts.fact_of_cdr`` of the live one)."""
    queued_at = _epoch(row.queued_at)
    if row.queue is None or queued_at is None:
        return None
    answered = row.answered_at is not None
    return CallFact(
        call_id=row.call_id,
        queue=row.queue,
        caller_number=row.caller_number,
        agent_id=row.agent_id if answered else None,
        queued_at=queued_at,
        answered=answered,
        abandoned=not answered and row.disposition == "abandoned",
        final=True,
        wait_ms=ms(row.wait_s),
        talk_ms=ms(row.talk_s) if answered else 0,
        survey_score=row.survey_score,
        nps_score=row.nps_score,
        disposition=row.agent_disposition,
    )


def _change(row: AgentStateRecord) -> StateChange:
    return StateChange(row.agent_id, row.state, row.reason, row.call_id, row.at)


class WallboardStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------ writes
    async def write(self, changes: Iterable[StateChange], alarms: Iterable[Alarm]) -> None:
        """State changes and alarm changes, in one transaction."""
        async with self.sessions.begin() as session:
            session.add_all(
                AgentStateRecord(
                    agent_id=c.agent_id,
                    state=c.state,
                    reason=c.reason[:64],
                    call_id=c.call_id,
                    at=c.at,
                )
                for c in changes
            )
            for alarm in alarms:
                if alarm.cleared_at is None:
                    session.add(
                        AlarmRecord(
                            rule=alarm.rule,
                            kind=alarm.kind,
                            queue=alarm.queue,
                            severity=alarm.severity,
                            value=alarm.value,
                            threshold=alarm.threshold,
                            raised_at=alarm.raised_at,
                        )
                    )
                    await session.flush()
                else:
                    await session.execute(
                        update(AlarmRecord)
                        .where(
                            AlarmRecord.rule == alarm.rule,
                            AlarmRecord.queue == alarm.queue,
                            AlarmRecord.raised_at == alarm.raised_at,
                        )
                        .values(cleared_at=alarm.cleared_at, cleared_value=alarm.value)
                    )

    # ------------------------------------------------------------ reads
    async def facts(self, start: float, end: float) -> list[CallFact]:
        """Calls that reached a queue in [start, end)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallRecord)
                .where(CallRecord.queued_at >= _dt(start), CallRecord.queued_at < _dt(end))
                .order_by(CallRecord.queued_at)
            )
            return [f for f in (fact_of_row(r) for r in rows) if f is not None]

    async def changes(self, start: float, until: float) -> list[StateChange]:
        """State log rows in [start, until), in time order."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(AgentStateRecord)
                .where(AgentStateRecord.at >= start, AgentStateRecord.at < until)
                .order_by(AgentStateRecord.at, AgentStateRecord.id)
            )
            return [_change(r) for r in rows]

    async def states_at(self, start: float) -> dict[str, StateChange]:
        """Each agent's last state change before ``start`` (the state in force then)."""
        last = (
            select(AgentStateRecord.agent_id, func.max(AgentStateRecord.id).label("id"))
            .where(AgentStateRecord.at < start)
            .group_by(AgentStateRecord.agent_id)
            .subquery()
        )
        async with self.sessions() as session:
            rows = await session.scalars(
                select(AgentStateRecord).join(
                    last,
                    and_(
                        AgentStateRecord.agent_id == last.c.agent_id,
                        AgentStateRecord.id == last.c.id,
                    ),
                )
            )
            return {r.agent_id: _change(r) for r in rows}

    async def alarms(self, since: float, limit: int = 200) -> list[AlarmRecord]:
        """Alarms raised since ``since`` or still active, newest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(AlarmRecord)
                .where((AlarmRecord.raised_at >= since) | AlarmRecord.cleared_at.is_(None))
                .order_by(AlarmRecord.raised_at.desc())
                .limit(limit)
            )
            return list(rows)
