"""Storage of the wallboard: the agent state log, alarms, and the facts reports read."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from cti.db.models import AgentStateRecord, AlarmRecord, CallRecord
from cti.kpi.alarms import Alarm
from cti.kpi.book import CallBook
from cti.kpi.facts import CallFact, StateChange, ms
from cti.kpi.options import KpiOptions
from cti.kpi.report import Lookahead, build_book, lookahead, lookahead_s


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes back; they are UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def fact_of_row(row: Any) -> CallFact | None:
    """The KPI fact of a stored CDR (as ``cti.kpi.facts.fact_of_cdr`` of the live one);
    ``row`` has the columns of ``FACT_COLUMNS`` (an ORM row or a plain result row)."""
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


@contextmanager
def bulk_objects() -> Iterator[None]:
    """The cyclic garbage collector held off while a report makes its tens of
    thousands of objects in one synchronous step (rows, facts, the book's
    indexes): none of them forms a cycle, yet each batch of new objects would
    set off a collection that walks them all again, a third of a report's time.
    Collections resume (and catch up) when the step is over; nothing is
    awaited inside, so no other task runs meanwhile."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_parse = datetime.fromisoformat


def facts_of_rows(rows: Iterable[Any]) -> list[CallFact]:
    """``fact_of_row`` of many rows (columns in the order of ``FACT_COLUMNS``),
    unpacked by position: a report reads tens of thousands. The moments may be
    datetimes (aware, or naive UTC) or, as ``READ_COLUMNS`` reads them from
    SQLite, their stored text (naive UTC); the epoch is the same float
    ``datetime.timestamp`` gives (microseconds over a million, correctly
    rounded)."""
    facts: list[CallFact] = []
    append = facts.append
    for (
        call_id,
        queue,
        caller_number,
        agent_id,
        queued_at,
        answered_at,
        disposition,
        wait_s,
        talk_s,
        survey_score,
        nps_score,
        agent_disposition,
    ) in rows:
        if queue is None or queued_at is None:
            continue
        if queued_at.__class__ is str:
            queued_at = _parse(queued_at)
        epoch = (queued_at - (_EPOCH if queued_at.tzinfo is None else _EPOCH_UTC)) / _SECOND
        answered = answered_at is not None
        append(
            CallFact(
                call_id,
                queue,
                caller_number,
                agent_id if answered else None,
                epoch,
                answered,
                not answered and disposition == "abandoned",
                True,
                round(wait_s * 1000),  # as ``ms``
                round(talk_s * 1000) if answered else 0,
                0,
                survey_score,
                nps_score,
                agent_disposition,
            )
        )
    return facts


#: the CDR columns a KPI fact is made of (read without building ORM objects)
FACT_COLUMNS = (
    CallRecord.call_id,
    CallRecord.queue,
    CallRecord.caller_number,
    CallRecord.agent_id,
    CallRecord.queued_at,
    CallRecord.answered_at,
    CallRecord.disposition,
    CallRecord.wait_s,
    CallRecord.talk_s,
    CallRecord.survey_score,
    CallRecord.nps_score,
    CallRecord.agent_disposition,
)
#: ``FACT_COLUMNS`` as a report reads them: the moments without the datetime
#: conversion of the ORM type (SQLite gives its stored text, parsed in
#: ``facts_of_rows`` at a third of the cost; PostgreSQL its aware datetimes)
READ_COLUMNS = tuple(
    type_coerce(c, String()).label(c.key) if c.key in ("queued_at", "answered_at") else c
    for c in FACT_COLUMNS
)


class WallboardStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine  # reads: plain rows on a connection, no ORM objects
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
    @asynccontextmanager
    async def _reading(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """The connection a read was given (one for all reads of a report), or its own."""
        if conn is not None:
            yield conn
            return
        async with self.engine.connect() as own:
            yield own

    async def facts(
        self, start: float, end: float, conn: AsyncConnection | None = None
    ) -> list[CallFact]:
        """Calls that reached a queue in [start, end)."""
        in_period = (CallRecord.queued_at >= _dt(start), CallRecord.queued_at < _dt(end))
        async with self._reading(conn) as conn:
            rows = await conn.execute(select(*READ_COLUMNS).where(*in_period))
            with bulk_objects():
                return facts_of_rows(rows.all())  # fetched at once, not row by row

    async def later_facts(
        self, start: float, ahead: Lookahead, conn: AsyncConnection | None = None
    ) -> list[CallFact]:
        """The calls after the period [start, ``ahead.end``) that can make one of its
        calls a repeat (FCR, repeat complaints): those ``ahead`` names, found from
        the numbers of the period in the index on (caller_number, queued_at)."""
        end = ahead.end
        in_period = (
            CallRecord.queued_at >= _dt(start),
            CallRecord.queued_at < _dt(end),
            CallRecord.caller_number != "",
        )
        numbers = select(CallRecord.caller_number).where(*in_period)
        parts = [
            select(*READ_COLUMNS).where(
                CallRecord.caller_number.in_(numbers.distinct().scalar_subquery()),
                CallRecord.queued_at >= _dt(end),
                CallRecord.queued_at < _dt(ahead.repeat_until),
            )
        ]
        if ahead.complaint_until > ahead.repeat_until:
            codes = CallRecord.agent_disposition.in_(ahead.complaint_codes)
            complainers = numbers.where(codes).distinct().scalar_subquery()
            parts.append(
                select(*READ_COLUMNS).where(
                    CallRecord.caller_number.in_(complainers),
                    CallRecord.queued_at >= _dt(ahead.repeat_until),
                    CallRecord.queued_at < _dt(ahead.complaint_until),
                    codes,
                )
            )
        facts: list[CallFact] = []
        async with self._reading(conn) as conn:
            for part in parts:
                rows = await conn.execute(part)
                with bulk_objects():
                    facts += facts_of_rows(rows.all())
        return facts

    async def book(self, options: KpiOptions, start: float, end: float, now: float) -> CallBook:
        """The call book of a report of [start, end) read at ``now``: the period's
        calls, the later ones that can flag them (``lookahead``) and the wrap-ups
        (they end within the hour after the period). One query after the other:
        in parallel they would fight over the interpreter lock and take longer."""
        horizon = min(end + lookahead_s(options), now + 1)
        async with self.engine.connect() as conn:  # one connection for the three reads
            period = await self.facts(start, end, conn)
            if horizon > end:
                period += await self.later_facts(start, lookahead(options, end, horizon), conn)
            wraps = await self.wrap_ms(start, min(end + 3600, now + 1), conn)
        with bulk_objects():
            return build_book(period, wraps, options)

    async def session_log(
        self, start: float, until: float
    ) -> tuple[dict[str, StateChange], list[StateChange]]:
        """Each agent's state at ``start`` and the state changes in [start, until)
        (what ``cti.kpi.report.session_report`` takes)."""
        async with self.engine.connect() as conn:
            return await self.states_at(start, conn), await self.changes(start, until, conn)

    async def changes(
        self, start: float, until: float, conn: AsyncConnection | None = None
    ) -> list[StateChange]:
        """State log rows in [start, until), in time order."""
        log = AgentStateRecord
        async with self._reading(conn) as conn:
            rows = await conn.execute(
                select(log.agent_id, log.state, log.reason, log.call_id, log.at)
                .where(log.at >= start, log.at < until)
                .order_by(log.at, log.id)
            )
            with bulk_objects():
                return [StateChange(*row) for row in rows.all()]

    async def wrap_ms(
        self, start: float, until: float, conn: AsyncConnection | None = None
    ) -> dict[str, int]:
        """Wrap-up time per call from the log rows in [start, until): each wrap-up
        closed by the agent's next row (as ``cti.kpi.figures.wrap_ms_by_call``)."""
        log = AgentStateRecord
        stints = (
            select(
                log.state,
                log.call_id,
                log.at,
                func.lead(log.at)
                .over(partition_by=log.agent_id, order_by=(log.at, log.id))
                .label("next_at"),
            )
            .where(log.at >= start, log.at < until)
            .subquery()
        )
        async with self._reading(conn) as conn:
            rows = await conn.execute(
                select(stints.c.call_id, stints.c.at, stints.c.next_at).where(
                    stints.c.state == "wrap_up",
                    stints.c.call_id.is_not(None),
                    stints.c.next_at.is_not(None),
                )
            )
            result: dict[str, int] = {}
            for call_id, at, next_at in rows:
                result[call_id] = result.get(call_id, 0) + max(0, ms(next_at) - ms(at))
            return result

    async def states_at(
        self, start: float, conn: AsyncConnection | None = None
    ) -> dict[str, StateChange]:
        """Each agent's last state change before ``start`` (the state in force then)."""
        last = (
            select(AgentStateRecord.agent_id, func.max(AgentStateRecord.id).label("id"))
            .where(AgentStateRecord.at < start)
            .group_by(AgentStateRecord.agent_id)
            .subquery()
        )
        log = AgentStateRecord
        async with self._reading(conn) as conn:
            rows = await conn.execute(
                select(log.agent_id, log.state, log.reason, log.call_id, log.at).join(
                    last, and_(log.agent_id == last.c.agent_id, log.id == last.c.id)
                )
            )
            return {row.agent_id: StateChange(*row) for row in rows}

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
