"""Database access for QA: recording pauses, call search, scores, training calls,
and the transcripts and tags the transcription side stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.db.models import (
    CallRecord,
    CallTag,
    QaScore,
    RecordingPause,
    TrainingCall,
    Transcript,
)
from cti.qa.fulltext import matching_calls
from cti.qa.words import query_terms

#: The tag that keeps a call's recordings and transcript from retention.
HOLD_TAG = "hold"


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What the QA search narrows calls by (all optional, combined with AND)."""

    since: datetime | None = None
    until: datetime | None = None
    agent_id: str | None = None
    queue: str | None = None
    tag: str | None = None
    caller_number: str | None = None  # a part of the number
    text: str | None = None  # words in the transcript (cti.qa.words.query_terms)
    has_recording: bool | None = None
    training: bool | None = None
    disposition: str | None = None  # the call's disposition or the agent's code
    survey_min: int | None = None  # the caller's survey score, 1-5
    survey_max: int | None = None
    only: frozenset[str] | None = None  # these calls only (the spot-check sample)
    limit: int = 50


@dataclass(slots=True)
class PauseSpan:
    agent_id: str
    paused_at: datetime
    resumed_at: datetime | None


@dataclass(slots=True)
class CallDetail:
    cdr: CallRecord
    pauses: list[PauseSpan]
    scores: list[QaScore]
    training: TrainingCall | None
    transcript: list[dict[str, Any]] = field(default_factory=list)  # turns, in time order
    tags: list[dict[str, Any]] = field(default_factory=list)
    language: str | None = None  # of the transcript
    engine: str | None = None


class QaStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------- red-flag tags
    async def last_tag_id(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.max(CallTag.id))) or 0)

    async def tags_after(
        self, last_id: int, limit: int = 500
    ) -> list[tuple[CallTag, CallRecord | None]]:
        """Tags stored after ``last_id``, oldest first, each with its call's CDR."""
        query = (
            select(CallTag, CallRecord)
            .outerjoin(CallRecord, CallRecord.call_id == CallTag.call_id)
            .where(CallTag.id > last_id)
            .order_by(CallTag.id)
            .limit(limit)
        )
        async with self.sessions() as session:
            return [(row[0], row[1]) for row in await session.execute(query)]

    async def rule_tags_since(
        self, since: datetime, up_to_id: int, limit: int = 100_000
    ) -> list[tuple[CallTag, str | None]]:
        """The tag rules' tags stored from ``since`` up to tag ``up_to_id``, oldest
        first, each with its call's queue."""
        query = (
            select(CallTag, CallRecord.queue)
            .outerjoin(CallRecord, CallRecord.call_id == CallTag.call_id)
            .where(
                CallTag.source == "rule",
                CallTag.created_at >= since,
                CallTag.id <= up_to_id,
            )
            .order_by(CallTag.id.desc())
            .limit(limit)
        )
        async with self.sessions() as session:
            rows = [(row[0], row[1]) for row in await session.execute(query)]
        return rows[::-1]

    # ------------------------------------------------------- recording pauses
    async def pause_started(self, call_id: str, agent_id: str, at: float) -> int:
        async with self.sessions.begin() as session:
            row = RecordingPause(call_id=call_id, agent_id=agent_id, paused_at=ts(at))
            session.add(row)
            await session.flush()
            return row.id

    async def pause_ended(self, pause_id: int, at: float) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(RecordingPause, pause_id)
            if row is not None and row.resumed_at is None:
                row.resumed_at = ts(at)

    async def pauses(self, call_id: str) -> list[PauseSpan]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(RecordingPause)
                .where(RecordingPause.call_id == call_id)
                .order_by(RecordingPause.paused_at)
            )
            return [
                PauseSpan(r.agent_id, _aware(r.paused_at) or r.paused_at, _aware(r.resumed_at))
                for r in rows
            ]

    # ------------------------------------------------------------- search
    async def search(self, f: CallFilter) -> list[CallRecord]:
        query: Select[tuple[CallRecord]] = select(CallRecord)
        conditions = []
        if f.since is not None:
            conditions.append(CallRecord.entered_at >= f.since)
        if f.until is not None:
            conditions.append(CallRecord.entered_at < f.until)
        if f.agent_id:
            conditions.append(CallRecord.agent_id == f.agent_id)
        if f.queue:
            conditions.append(CallRecord.queue == f.queue)
        if f.caller_number:
            conditions.append(CallRecord.caller_number.contains(f.caller_number, autoescape=True))
        if f.has_recording is True:
            conditions.append(
                or_(CallRecord.recording_path.is_not(None), CallRecord.voicemail_path.is_not(None))
            )
        elif f.has_recording is False:
            conditions.append(
                and_(CallRecord.recording_path.is_(None), CallRecord.voicemail_path.is_(None))
            )
        if f.training is not None:
            marked = exists().where(TrainingCall.call_id == CallRecord.call_id)
            conditions.append(marked if f.training else ~marked)
        if f.tag:
            conditions.append(
                CallRecord.call_id.in_(select(CallTag.call_id).where(CallTag.tag == f.tag))
            )
        if f.text:
            terms = query_terms(f.text)
            conditions.append(
                CallRecord.call_id.in_(matching_calls(terms, self.engine.dialect.name))
            )
        if f.disposition:
            conditions.append(
                or_(
                    CallRecord.disposition == f.disposition,
                    CallRecord.agent_disposition == f.disposition,
                )
            )
        if f.survey_min is not None:
            conditions.append(CallRecord.survey_score >= f.survey_min)
        if f.survey_max is not None:
            conditions.append(CallRecord.survey_score <= f.survey_max)
        if f.only is not None:
            conditions.append(CallRecord.call_id.in_(sorted(f.only)))
        query = query.where(*conditions).order_by(CallRecord.entered_at.desc()).limit(f.limit)
        async with self.sessions() as session:
            return list(await session.scalars(query))

    async def agent_averages(self, agent_ids: set[str]) -> dict[str, tuple[float, int]]:
        """Each agent's mean QA score and how many calls it covers."""
        if not agent_ids:
            return {}
        async with self.sessions() as session:
            rows = await session.execute(
                select(QaScore.agent_id, func.avg(QaScore.total), func.count(QaScore.id))
                .where(QaScore.agent_id.in_(agent_ids))
                .group_by(QaScore.agent_id)
            )
            return {agent: (float(avg), int(n)) for agent, avg, n in rows if agent}

    async def call_scores(self, call_ids: list[str]) -> dict[str, float]:
        """The latest score of each call."""
        if not call_ids:
            return {}
        async with self.sessions() as session:
            rows = await session.execute(
                select(QaScore.call_id, QaScore.total)
                .where(QaScore.call_id.in_(call_ids))
                .order_by(QaScore.scored_at)
            )
            return {call_id: float(total) for call_id, total in rows}

    # ------------------------------------------------------------- one call
    async def detail(self, call_id: str) -> CallDetail | None:
        async with self.sessions() as session:
            cdr = await session.get(CallRecord, call_id)
            if cdr is None:
                return None
            scores = list(
                await session.scalars(
                    select(QaScore).where(QaScore.call_id == call_id).order_by(QaScore.scored_at)
                )
            )
            training = await session.get(TrainingCall, call_id)
            transcript = await session.get(Transcript, call_id)
            tags = list(
                await session.scalars(
                    select(CallTag).where(CallTag.call_id == call_id).order_by(CallTag.start_s)
                )
            )
        detail = CallDetail(cdr, await self.pauses(call_id), scores, training)
        if transcript is not None:
            detail.transcript = [t for t in transcript.turns if isinstance(t, dict)]
            detail.language = transcript.language
            detail.engine = transcript.engine
        detail.tags = [
            {
                "tag": t.tag,
                "start_s": t.start_s,
                "end_s": t.end_s,
                "source": t.source,
                "created_by": t.created_by,
                "detail": t.detail,
            }
            for t in tags
        ]
        return detail

    # ------------------------------------------------------------- scoring
    async def save_score(self, score: QaScore) -> QaScore:
        async with self.sessions.begin() as session:
            session.add(score)
            await session.flush()
            return score

    async def set_training(self, call_id: str, by: str, at: float, note: str, on: bool) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(TrainingCall, call_id)
            if not on:
                if row is not None:
                    await session.delete(row)
                return
            if row is None:
                row = TrainingCall(call_id=call_id, marked_by=by, marked_at=ts(at), note=note)
                session.add(row)
            else:
                row.marked_by, row.marked_at, row.note = by, ts(at), note

    # ------------------------------------------------- spot-check sample, hold
    async def agent_calls(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """``(call_id, agent_id)`` of the calls an agent took that came in in [start, end)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(CallRecord.call_id, CallRecord.agent_id).where(
                    CallRecord.agent_id.is_not(None),
                    CallRecord.entered_at >= start,
                    CallRecord.entered_at < end,
                )
            )
            return [(call_id, agent) for call_id, agent in rows if agent]

    async def set_hold(self, call_id: str, by: str, at: float, on: bool) -> bool:
        """Tag the call ``hold`` (kept from retention) or remove the tag; whether it changed."""
        async with self.sessions.begin() as session:
            held = list(
                await session.scalars(
                    select(CallTag).where(CallTag.call_id == call_id, CallTag.tag == HOLD_TAG)
                )
            )
            if on and not held:
                session.add(
                    CallTag(
                        call_id=call_id,
                        tag=HOLD_TAG,
                        detail={},
                        source="manual",
                        created_by=by,
                        created_at=ts(at),
                    )
                )
                return True
            if not on and held:
                for row in held:
                    await session.delete(row)
                return True
            return False

    async def held_ids(self, call_ids: list[str]) -> set[str]:
        if not call_ids:
            return set()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallTag.call_id).where(
                    CallTag.call_id.in_(call_ids), CallTag.tag == HOLD_TAG
                )
            )
            return set(rows)

    async def training_ids(self, call_ids: list[str]) -> set[str]:
        if not call_ids:
            return set()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(TrainingCall.call_id).where(TrainingCall.call_id.in_(call_ids))
            )
            return set(rows)
