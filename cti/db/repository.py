"""Repositories: the only code that talks SQL."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cti.auth import verify_password
from cti.db.fit import fit_row
from cti.db.migrate import upgrade_schema
from cti.db.models import (
    CallRecord,
    Customer,
    PendingCallbackRecord,
    PendingDispositionRecord,
    User,
)
from cti.domain.model import CallDetailRecord, PendingCallback
from cti.state_files import secure_database
from recordings.transcribe.enqueue import queue_transcriptions

log = logging.getLogger(__name__)


_PENDING_FIELDS = tuple(f.name for f in dataclasses.fields(PendingCallback) if f.name != "call_id")


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def make_engine(url: str) -> AsyncEngine:
    secure_database(url)  # a SQLite file is created 0600, before SQLite makes it 0644
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers (screen-pop lookups) never wait for a CDR write; NORMAL is
    # durable across process crashes (only an OS crash can lose the last commits).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # reads through a memory map, not a copy per page (a report reads a day of CDRs)
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the current schema by its migrations (see ``cti.db.migrate``).

    Works on a new database, on one made by the first release (no migration
    history) and on one already under migrations; safe to call concurrently.
    """
    await upgrade_schema(engine)


@dataclass(frozen=True, slots=True)
class AgentDisposition:
    """An agent's disposition code and notes for a call."""

    agent_id: str
    code: str
    notes: str


class Repository:
    def __init__(self, engine: AsyncEngine, transcription_engine: str = "") -> None:
        """``transcription_engine``: a stored CDR with a recording gets a transcription
        job for this engine, in the same transaction ("": none)."""
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.transcription_engine = transcription_engine

    # ----------------------------------------------------------------- users
    async def user(self, username: str) -> User | None:
        async with self.sessions() as session:
            return await session.get(User, username)

    async def agents(self) -> list[User]:
        async with self.sessions() as session:
            rows = await session.scalars(select(User).where(User.role == "agent"))
            return list(rows)

    async def set_agent_skills(self, username: str, skills: str) -> None:
        """Set an agent's router skills ("lang.en:5,billing:3"); read at start."""
        async with self.sessions.begin() as session:
            user = await session.get(User, username)
            if user is None or user.role != "agent":
                raise KeyError(f"no agent {username!r}")
            user.skills = skills

    async def upsert_users(self, users: Iterable[User]) -> None:
        async with self.sessions.begin() as session:
            for user in users:
                await session.merge(user)

    # ----------------------------------------------------------------- customers
    async def customer_by_phone(self, phone: str) -> Customer | None:
        if not phone:
            return None
        async with self.sessions() as session:
            return await session.scalar(select(Customer).where(Customer.phone == phone))

    async def upsert_customers(self, customers: Iterable[Customer]) -> None:
        async with self.sessions.begin() as session:
            for customer in customers:
                existing = await session.scalar(
                    select(Customer).where(Customer.phone == customer.phone)
                )
                if existing is None:
                    session.add(customer)
                else:
                    existing.name, existing.tier = customer.name, customer.tier
                    existing.language, existing.notes = customer.language, customer.notes
                    existing.account_number = customer.account_number
                    existing.pin_hash = customer.pin_hash

    async def account_for_phone(self, phone: str) -> str | None:
        customer = await self.customer_by_phone(phone)
        return customer.account_number if customer is not None else None

    async def check_pin(self, account_number: str, pin: str) -> bool:
        """True when the account exists and the PIN matches its stored hash."""
        if not account_number or not pin:
            return False
        async with self.sessions() as session:
            customer = await session.scalar(
                select(Customer).where(Customer.account_number == account_number)
            )
        if customer is None or not customer.pin_hash:
            return False
        return await asyncio.to_thread(verify_password, pin, customer.pin_hash)

    async def recent_calls(self, phone: str, limit: int = 5) -> list[CallRecord]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CallRecord)
                .where(CallRecord.caller_number == phone)
                .order_by(CallRecord.entered_at.desc())
                .limit(limit)
            )
            return list(rows)

    # ----------------------------------------------------------------- CDR
    async def save_cdrs(
        self,
        batch: Iterable[tuple[CallDetailRecord, int | None]],
        dispositions: Mapping[str, AgentDisposition] | None = None,
    ) -> None:
        """Insert or complete CDRs (idempotent on call_id), in one transaction.

        ``dispositions`` (by call id): what the agent chose before the CDR was
        written; stored in the same transaction when the agent is the CDR's.
        A CDR handed over without its customer (not looked up in time) gets it
        here, by caller number, in the same transaction.
        """
        dispositions = dispositions or {}
        items = {cdr.call_id: (cdr, customer_id) for cdr, customer_id in batch}
        if not items:
            return
        async with self.sessions.begin() as session:
            rows = {
                row.call_id: row
                for row in await session.scalars(
                    select(CallRecord).where(CallRecord.call_id.in_(list(items)))
                )
            }
            # dispositions kept durably before the CDR existed (e.g. across a restart)
            dispositions = {**await _take_pending_dispositions(session, items), **dispositions}
            unknown = {c.caller_number for c, known in items.values() if known is None}
            by_phone: dict[str, int] = {}
            if unknown:
                found = await session.execute(
                    select(Customer.phone, Customer.id).where(Customer.phone.in_(unknown))
                )
                by_phone = {row[0]: row[1] for row in found}
            for call_id, (cdr, customer_id) in items.items():
                row = rows.get(call_id)
                if row is None:
                    row = CallRecord(call_id=call_id)
                    session.add(row)
                row.caller_number = cdr.caller_number
                row.caller_name = cdr.caller_name  # fitted to its column below (fit_row)
                row.customer_id = (
                    customer_id if customer_id is not None else by_phone.get(cdr.caller_number)
                )
                row.ivr_path = cdr.ivr_path
                row.queue = cdr.queue
                row.agent_id = cdr.agent_id
                row.entered_at = _ts(cdr.entered_at) or datetime.now(UTC)
                row.queued_at = _ts(cdr.queued_at)
                row.answered_at = _ts(cdr.answered_at)
                row.ended_at = _ts(cdr.ended_at) or datetime.now(UTC)
                row.wait_s = round(cdr.wait_s, 3)
                row.talk_s = round(cdr.talk_s, 3)
                row.disposition = cdr.disposition.value
                row.recording_path = cdr.recording_path
                row.recovered = False
                row.verified = cdr.verified
                row.survey_score = cdr.survey_score
                row.nps_score = cdr.nps_score
                row.voicemail_path = cdr.voicemail_path
                row.callback_outcome = cdr.callback_outcome
                fit_row(row)
                chosen = dispositions.get(call_id)
                if chosen is not None and chosen.agent_id == cdr.agent_id:
                    row.agent_disposition, row.agent_notes = chosen.code, chosen.notes
            if self.transcription_engine:
                await queue_transcriptions(session, items, rows, self.transcription_engine)
            # the call is over: a call-back it waited for is made or given up
            await session.execute(
                delete(PendingCallbackRecord).where(PendingCallbackRecord.call_id.in_(list(items)))
            )

    # ----------------------------------------------------------- call-backs
    async def save_pending_callbacks(self, callbacks: Iterable[PendingCallback]) -> None:
        """Insert or update pending call-backs, in one transaction."""
        wanted = {c.call_id: c for c in callbacks}
        if not wanted:
            return
        async with self.sessions.begin() as session:
            rows = {
                row.call_id: row
                for row in await session.scalars(
                    select(PendingCallbackRecord).where(
                        PendingCallbackRecord.call_id.in_(list(wanted))
                    )
                )
            }
            for call_id, callback in wanted.items():
                row = rows.get(call_id)
                if row is None:
                    row = PendingCallbackRecord(call_id=call_id)
                    session.add(row)
                for name in _PENDING_FIELDS:
                    setattr(row, name, getattr(callback, name))
                fit_row(row)

    async def pending_callbacks(self) -> list[PendingCallback]:
        """Every call-back still owed, oldest place in line first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PendingCallbackRecord).order_by(PendingCallbackRecord.queued_at)
            )
            return [
                PendingCallback(
                    call_id=row.call_id, **{name: getattr(row, name) for name in _PENDING_FIELDS}
                )
                for row in rows
            ]

    async def insert_missing_cdrs(self, cdrs: Iterable[CallDetailRecord]) -> int:
        """Store CDRs (marked recovered) for calls that have none yet and owe no call-back."""
        wanted = {cdr.call_id: cdr for cdr in cdrs}
        if not wanted:
            return 0
        async with self.sessions.begin() as session:
            known = set(
                await session.scalars(
                    select(CallRecord.call_id).where(CallRecord.call_id.in_(list(wanted)))
                )
            )
            # a caller who hung up waiting for a call-back: not over yet
            known |= set(
                await session.scalars(
                    select(PendingCallbackRecord.call_id).where(
                        PendingCallbackRecord.call_id.in_(list(wanted))
                    )
                )
            )
            chosen = await _take_pending_dispositions(
                session, [c for c in wanted if c not in known]
            )
            for call_id, cdr in wanted.items():
                if call_id in known:
                    continue
                row = CallRecord(
                    call_id=call_id,
                    caller_number=cdr.caller_number,
                    caller_name=cdr.caller_name,
                    ivr_path=cdr.ivr_path,
                    queue=cdr.queue,
                    agent_id=cdr.agent_id,
                    entered_at=_ts(cdr.entered_at),
                    answered_at=_ts(cdr.answered_at),
                    ended_at=_ts(cdr.ended_at),
                    wait_s=cdr.wait_s,
                    talk_s=cdr.talk_s,
                    disposition=cdr.disposition.value,
                    recording_path=cdr.recording_path,
                    voicemail_path=cdr.voicemail_path,
                    callback_outcome=cdr.callback_outcome,
                    recovered=True,
                )
                given = chosen.get(call_id)
                if given is not None and given.agent_id == cdr.agent_id:
                    row.agent_disposition, row.agent_notes = given.code, given.notes
                fit_row(row)
                session.add(row)
            return len(wanted) - len(known)

    async def cdr(self, call_id: str) -> CallRecord | None:
        async with self.sessions() as session:
            return await session.get(CallRecord, call_id)

    async def save_pending_disposition(
        self, call_id: str, chosen: AgentDisposition, at: float
    ) -> None:
        """Keep a disposition given before the call's CDR exists, until it is written."""
        async with self.sessions.begin() as session:
            row = await session.get(PendingDispositionRecord, call_id)
            if row is None:
                row = PendingDispositionRecord(call_id=call_id)
                session.add(row)
            row.agent_id, row.code, row.notes, row.created_at = (
                chosen.agent_id,
                chosen.code,
                chosen.notes,
                at,
            )
            fit_row(row)

    async def set_agent_disposition(
        self, call_id: str, agent_id: str, disposition: str, notes: str
    ) -> bool:
        async with self.sessions.begin() as session:
            await session.execute(
                delete(PendingDispositionRecord).where(
                    PendingDispositionRecord.call_id == call_id,
                    PendingDispositionRecord.agent_id == agent_id,
                )
            )
            row = await session.get(CallRecord, call_id)
            if row is None or row.agent_id != agent_id:
                return False
            row.agent_disposition, row.agent_notes = disposition, notes
            fit_row(row)
            return True


async def _take_pending_dispositions(
    session: AsyncSession, call_ids: Iterable[str]
) -> dict[str, AgentDisposition]:
    """The durable pending dispositions of ``call_ids``, removed (same transaction)."""
    ids = list(call_ids)
    if not ids:
        return {}
    rows = await session.scalars(
        select(PendingDispositionRecord).where(PendingDispositionRecord.call_id.in_(ids))
    )
    found = {r.call_id: AgentDisposition(r.agent_id, r.code, r.notes) for r in rows}
    if found:
        await session.execute(
            delete(PendingDispositionRecord).where(PendingDispositionRecord.call_id.in_(found))
        )
    return found
