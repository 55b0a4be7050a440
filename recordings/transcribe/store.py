"""The transcription tables' repository: the durable job queue, transcripts and tags.

Workers *lease* a job (compare-and-set on its row, so two workers never hold
the same job, on SQLite and PostgreSQL alike), renew the lease while they
work, and store the result with ``complete``: the transcript, the rule tags
and the job's ``done`` state in one transaction that only succeeds while the
worker still holds the lease it was given (owner and attempt number). A
worker killed mid-job stops renewing; after ``lease_expires_at`` another
worker leases the job again, and the dead worker's result, should it ever
arrive, is refused: each job's result is stored exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.db.models import (
    CallRecord,
    CallTag,
    Transcript,
    TranscriptionJob,
    TranscriptionJobState,
)
from recordings.transcribe.types import AudioSource, TagMatch, TranscriptData

QUEUED = TranscriptionJobState.QUEUED
RUNNING = TranscriptionJobState.RUNNING
DONE = TranscriptionJobState.DONE
FAILED = TranscriptionJobState.FAILED

#: A job leased this many times without finishing (its workers died) fails.
DEFAULT_MAX_ATTEMPTS = 3


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeasedJob:
    """A job a worker holds; ``owner`` and ``attempt`` fence its writes."""

    id: int
    call_id: str
    sources: tuple[AudioSource, ...]
    engine: str
    language: str | None
    owner: str
    attempt: int
    lease_expires_at: datetime


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    call_id: str
    engine: str
    language: str | None
    state: TranscriptionJobState
    attempts: int
    error: str | None
    audio_s: float | None
    sources: tuple[AudioSource, ...]
    created_at: datetime
    finished_at: datetime | None


def _view(row: TranscriptionJob) -> JobView:
    created = _aware(row.created_at)
    assert created is not None
    return JobView(
        id=row.id,
        call_id=row.call_id,
        engine=row.engine,
        language=row.language,
        state=TranscriptionJobState(row.state),
        attempts=row.attempts,
        error=row.error,
        audio_s=row.audio_s,
        sources=tuple(AudioSource.from_json(s) for s in row.sources),
        created_at=created,
        finished_at=_aware(row.finished_at),
    )


def add_job(
    session: AsyncSession,
    call_id: str,
    sources: Sequence[AudioSource],
    engine: str,
    language: str | None = None,
) -> TranscriptionJob:
    """Add a queued job inside the caller's transaction (the CDR writer's, so a
    stored CDR with a recording and its job are committed together)."""
    if not sources:
        raise ValueError(f"call {call_id}: a transcription job needs a recording")
    job = TranscriptionJob(
        call_id=call_id,
        sources=[s.as_json() for s in sources],
        engine=engine,
        language=language,
        state=QUEUED,
        attempts=0,
        created_at=_now(),
    )
    session.add(job)
    return job


class TranscriptionStore:
    """Jobs, transcripts and tags in the hotline database."""

    def __init__(self, engine: AsyncEngine, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ jobs
    async def enqueue(
        self,
        call_id: str,
        sources: Sequence[AudioSource],
        engine: str,
        language: str | None = None,
    ) -> int:
        async with self.sessions.begin() as session:
            job = add_job(session, call_id, sources, engine, language)
            await session.flush()
            return job.id

    async def lease(
        self,
        owner: str,
        lease_s: float,
        engines: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> LeasedJob | None:
        """Take the oldest job that is queued or whose lease ran out (None: none).

        A job whose lease ran out ``max_attempts`` times is failed instead.
        """
        now = now or _now()
        wanted = list(engines) if engines is not None else None
        available = or_(
            TranscriptionJob.state == QUEUED,
            and_(TranscriptionJob.state == RUNNING, TranscriptionJob.lease_expires_at < now),
        )
        while True:
            async with self.sessions.begin() as session:
                query = select(TranscriptionJob).where(available)
                if wanted is not None:
                    query = query.where(TranscriptionJob.engine.in_(wanted))
                row = await session.scalar(query.order_by(TranscriptionJob.id).limit(1))
                if row is None:
                    return None
                job_id, attempts = row.id, row.attempts
                if attempts >= self.max_attempts:
                    await session.execute(
                        _update()
                        .where(TranscriptionJob.id == job_id, available)
                        .values(
                            state=FAILED,
                            lease_owner=None,
                            lease_expires_at=None,
                            finished_at=now,
                            error=f"not finished after {attempts} attempts "
                            "(the workers holding it stopped)",
                        )
                    )
                    continue
                expires = now + timedelta(seconds=lease_s)
                result = await session.execute(
                    _update()
                    .where(
                        TranscriptionJob.id == job_id,
                        TranscriptionJob.attempts == attempts,
                        available,
                    )
                    .values(
                        state=RUNNING,
                        lease_owner=owner,
                        lease_expires_at=expires,
                        attempts=attempts + 1,
                        started_at=now,
                    )
                )
                if _rowcount(result) != 1:
                    continue  # another worker took it first: look again
                return LeasedJob(
                    id=job_id,
                    call_id=row.call_id,
                    sources=tuple(AudioSource.from_json(s) for s in row.sources),
                    engine=row.engine,
                    language=row.language,
                    owner=owner,
                    attempt=attempts + 1,
                    lease_expires_at=expires,
                )

    def _held(self, job: LeasedJob) -> Any:
        return and_(
            TranscriptionJob.id == job.id,
            TranscriptionJob.state == RUNNING,
            TranscriptionJob.lease_owner == job.owner,
            TranscriptionJob.attempts == job.attempt,
        )

    async def renew(self, job: LeasedJob, lease_s: float, now: datetime | None = None) -> bool:
        """Extend the lease; False when the job is no longer this worker's."""
        expires = (now or _now()) + timedelta(seconds=lease_s)
        async with self.sessions.begin() as session:
            result = await session.execute(
                _update().where(self._held(job)).values(lease_expires_at=expires)
            )
            return _rowcount(result) == 1

    async def complete(
        self,
        job: LeasedJob,
        transcript: TranscriptData,
        tags: Sequence[TagMatch],
        now: datetime | None = None,
    ) -> bool:
        """Store the result once: transcript (replacing an older one of the call),
        the call's rule tags and the job done, in one transaction. False (nothing
        stored) when the worker no longer holds the job."""
        now = now or _now()
        async with self.sessions.begin() as session:
            result = await session.execute(
                _update()
                .where(self._held(job))
                .values(
                    state=DONE,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    error=None,
                    audio_s=transcript.duration_s,
                )
            )
            if _rowcount(result) != 1:
                return False
            await session.merge(
                Transcript(
                    call_id=job.call_id,
                    engine=transcript.engine,
                    language=transcript.language,
                    created_at=now,
                    duration_s=transcript.duration_s,
                    turns=transcript.turns,
                    analytics=transcript.analytics,
                    text=transcript.text,
                )
            )
            await session.execute(
                delete(CallTag).where(CallTag.call_id == job.call_id, CallTag.source == "rule")
            )
            session.add_all(
                CallTag(
                    call_id=job.call_id,
                    tag=tag.tag,
                    start_s=tag.start_s,
                    end_s=tag.end_s,
                    detail=tag.detail,
                    source="rule",
                    created_at=now,
                )
                for tag in tags
            )
            return True

    async def fail(self, job: LeasedJob, reason: str, now: datetime | None = None) -> bool:
        """End the job as failed with its reason (not retried)."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                _update()
                .where(self._held(job))
                .values(
                    state=FAILED,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now or _now(),
                    error=reason[:2000],
                )
            )
            return _rowcount(result) == 1

    async def job(self, job_id: int) -> JobView | None:
        async with self.sessions() as session:
            row = await session.get(TranscriptionJob, job_id)
            return _view(row) if row is not None else None

    async def jobs(
        self,
        states: Iterable[TranscriptionJobState] | None = None,
        engines: Iterable[str] | None = None,
    ) -> list[JobView]:
        query = select(TranscriptionJob).order_by(TranscriptionJob.id)
        if states is not None:
            query = query.where(TranscriptionJob.state.in_(list(states)))
        if engines is not None:
            query = query.where(TranscriptionJob.engine.in_(list(engines)))
        async with self.sessions() as session:
            return [_view(row) for row in await session.scalars(query)]

    async def pending(self, engines: Iterable[str] | None = None) -> int:
        """Jobs not finished yet (queued, or leased by a worker alive or not)."""
        query = select(func.count()).where(TranscriptionJob.state.in_([QUEUED, RUNNING]))
        if engines is not None:
            query = query.where(TranscriptionJob.engine.in_(list(engines)))
        async with self.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def counts(self) -> dict[TranscriptionJobState, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(TranscriptionJob.state, func.count()).group_by(TranscriptionJob.state)
            )
            found = {TranscriptionJobState(state): n for state, n in rows}
        return {state: found.get(state, 0) for state in TranscriptionJobState}

    async def recorded_calls(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        """(call_id, recording_path) of the calls that entered in [since, until)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(CallRecord.call_id, CallRecord.recording_path)
                .where(
                    CallRecord.entered_at >= since,
                    CallRecord.entered_at < until,
                    CallRecord.recording_path.is_not(None),
                )
                .order_by(CallRecord.entered_at)
            )
            return [(call_id, path) for call_id, path in rows if path]

    # ----------------------------------------------------- transcripts, tags
    async def transcript(self, call_id: str) -> Transcript | None:
        async with self.sessions() as session:
            return await session.get(Transcript, call_id)

    async def tags(self, call_id: str) -> list[CallTag]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallTag)
                .where(CallTag.call_id == call_id)
                .order_by(CallTag.start_s, CallTag.id)
            )
            return list(rows)

    async def add_manual_tag(
        self,
        call_id: str,
        tag: str,
        start_s: float | None,
        end_s: float | None,
        created_by: str,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """A tag put by a person (kept when the call is transcribed again)."""
        async with self.sessions.begin() as session:
            row = CallTag(
                call_id=call_id,
                tag=tag,
                start_s=start_s,
                end_s=end_s,
                detail=detail or {},
                source="manual",
                created_by=created_by,
                created_at=_now(),
            )
            session.add(row)
            await session.flush()
            return row.id


def _update() -> Any:
    """An UPDATE of jobs that leaves the session's objects alone (the rows are
    compared with tz-aware datetimes SQLite hands back naive)."""
    return update(TranscriptionJob).execution_options(synchronize_session=False)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
