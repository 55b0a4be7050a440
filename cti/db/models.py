"""Tables. The same models serve SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Dialect, Enum, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

from cti.qa.words import index_text

# Asterisk's longest caller number is 79 bytes (AST_MAX_EXTENSION is 80)
CALLER_NUMBER_LENGTH = 80
CALLER_NAME_LENGTH = 128


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and given back timezone-aware on every backend.

    PostgreSQL keeps the zone (``timestamptz``); SQLite keeps none: what it
    gives back is naive UTC, and an aware value of another zone would be
    written with its own wall clock. Both are made UTC here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value  # naive: taken as UTC
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class User(Base):
    """Someone who logs in to the web: an agent, QA, a supervisor or an admin."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # agent | qa | supervisor | admin
    # agent-only: the PJSIP interface rung for this agent and the queues served
    interface: Mapped[str | None] = mapped_column(String(128), default=None)
    queues: Mapped[str] = mapped_column(String(512), default="")  # comma-separated
    wrap_up_s: Mapped[float] = mapped_column(Float, default=0.0)
    # agent-only: skills with levels 1..10 for the router, "lang.en:5,billing:3"
    skills: Mapped[str] = mapped_column(String(512), default="", server_default="")

    @property
    def queue_list(self) -> list[str]:
        return [q for q in self.queues.split(",") if q]

    @property
    def skill_levels(self) -> dict[str, int]:
        """``skills`` parsed; a bare name means level 1, bad levels are dropped."""
        levels: dict[str, int] = {}
        for item in self.skills.split(","):
            name, _, level = item.strip().partition(":")
            if not name:
                continue
            try:
                levels[name.strip()] = int(level) if level.strip() else 1
            except ValueError:
                continue
        return levels


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(16), default="standard")  # standard|gold|platinum
    language: Mapped[str] = mapped_column(String(8), default="en")
    account_number: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    pin_hash: Mapped[str | None] = mapped_column(String(256), default=None)  # IVR identity check
    notes: Mapped[str] = mapped_column(Text, default="")


class CallRecord(Base):
    """One CDR per call, keyed by the Asterisk linkedid."""

    __tablename__ = "cdr"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(CALLER_NUMBER_LENGTH), index=True)
    caller_name: Mapped[str] = mapped_column(String(CALLER_NAME_LENGTH), default="")
    customer_id: Mapped[int | None] = mapped_column(Integer, default=None)
    ivr_path: Mapped[str] = mapped_column(String(512), default="")
    queue: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    wait_s: Mapped[float] = mapped_column(Float, default=0.0)
    talk_s: Mapped[float] = mapped_column(Float, default=0.0)
    disposition: Mapped[str] = mapped_column(String(32))
    recording_path: Mapped[str | None] = mapped_column(String(512), default=None)
    agent_disposition: Mapped[str | None] = mapped_column(String(64), default=None)
    agent_notes: Mapped[str] = mapped_column(Text, default="")
    # True when rebuilt from Asterisk's own CDR file (the call ended while the CTI was down)
    recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # post-call survey: the caller's 1-5 rating (None: no survey or no answer)
    survey_score: Mapped[int | None] = mapped_column(Integer, default=None)
    # message left in the IVR outside business hours (file on the CTI's host)
    voicemail_path: Mapped[str | None] = mapped_column(String(512), default=None)
    # queue call-back: "answered", or "failed:<last dial status>" (None: no call-back)
    callback_outcome: Mapped[str | None] = mapped_column(String(64), default=None)
    # post-call survey, optional second question: 0-10 "would you recommend us" (NPS)
    nps_score: Mapped[int | None] = mapped_column(Integer, default=None)


class PendingCallbackRecord(Base):
    """A call-back promised to a caller and not made yet (see
    ``cti.domain.model.PendingCallback``). Removed in the transaction that
    stores the call's CDR. Times are epoch seconds."""

    __tablename__ = "pending_callbacks"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(CALLER_NUMBER_LENGTH))
    caller_name: Mapped[str] = mapped_column(String(CALLER_NAME_LENGTH), default="")
    callback_number: Mapped[str] = mapped_column(String(32))
    ivr_path: Mapped[str] = mapped_column(String(512), default="")
    queue: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[float] = mapped_column(Float)
    queued_at: Mapped[float] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(16), default="en")
    product: Mapped[str] = mapped_column(String(64), default="general")
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    urgency: Mapped[int] = mapped_column(Integer, default=3)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_path: Mapped[str | None] = mapped_column(String(512), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    in_flight: Mapped[bool] = mapped_column(Boolean, default=False)


class PinFailureRecord(Base):
    """Wrong IVR PINs counted across calls, per account and per caller number
    (``key``: ``account:<number>`` or ``caller:<number>``). Epoch seconds."""

    __tablename__ = "pin_failures"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class CdrDeadLetter(Base):
    """A CDR the database refused (the writer set it aside and went on): the
    record as JSON and the database's reason. Epoch seconds."""

    __tablename__ = "cdr_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class PendingDispositionRecord(Base):
    """An agent's disposition given before the call's CDR was stored: kept here
    (durable) until it is written into the CDR's row. Epoch seconds."""

    __tablename__ = "pending_dispositions"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class TranscriptionJobState(enum.StrEnum):
    """Where a transcription job is: waiting, leased by a worker, or finished."""

    QUEUED = "queued"
    RUNNING = "running"  # leased: lease_owner works on it until lease_expires_at
    DONE = "done"
    FAILED = "failed"  # error says why (missing, empty, truncated or non-audio file...)


class TranscriptionJob(Base):
    """One call's recording(s) to transcribe; the durable queue the workers lease from
    (see ``recordings.transcribe.store``)."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)  # the CDR's call_id
    # [{"party": "caller"|"agent"|"mixed", "path": "...", "channel": int|null}, ...]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    engine: Mapped[str] = mapped_column(String(32))  # "vosk" | "whisper"
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    state: Mapped[TranscriptionJobState] = mapped_column(
        Enum(
            TranscriptionJobState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [s.value for s in states],
        ),
        index=True,
    )
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    audio_s: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Transcript(Base):
    """A call's transcript (PII redacted; the raw text is never stored) and its analytics."""

    __tablename__ = "transcripts"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    # [{"party", "start", "end", "text", "words": [{"w", "start", "end", "conf"}],
    #   "sentiment"}, ...] in time order
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    analytics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # every turn's redacted text, one line per turn: what full-text search reads
    text: Mapped[str] = mapped_column(Text, default="")
    # ``text``'s words as the full-text index holds them (cti.qa.words; set with text)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    @validates("text")
    def _index_text(self, _key: str, value: str) -> str:
        self.search_text = index_text(value or "")
        return value


class CallTag(Base):
    """A tag on a call at a time span: from the tag rules, or put by a person."""

    __tablename__ = "call_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    start_s: Mapped[float | None] = mapped_column(Float, default=None)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="rule")  # rule | manual
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgentStateRecord(Base):
    """The agent state log: one row per state change (``cti.kpi.facts.StateChange``).

    The state holds from ``at`` (epoch seconds) until the agent's next row.
    ``call_id``: the call rung or talked on, or the one a wrap-up follows.
    """

    __tablename__ = "agent_state_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[str | None] = mapped_column(String(64), default=None)
    at: Mapped[float] = mapped_column(Float, index=True)


class AlarmRecord(Base):
    """A supervisor alarm (rule of the wallboard file) raised, and when it cleared."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[float] = mapped_column(Float, index=True)
    cleared_at: Mapped[float | None] = mapped_column(Float, default=None)
    cleared_value: Mapped[float | None] = mapped_column(Float, default=None)


class AuditEntry(Base):
    """Who did what to what, when: supervisors' actions (listen, whisper,
    barge), later logins and admin changes. Appended, never updated."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RecordingPause(Base):
    """A span of a call's recording paused by its agent (card details: PCI).

    Both directions of the recording are silence from ``paused_at`` to
    ``resumed_at`` (None: paused until the call ended). Written when the
    agent pauses, so a span is kept even if the CTI stops before the CDR."""

    __tablename__ = "recording_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class QaScore(Base):
    """A QA reviewer's score of one call against the scorecard."""

    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    scorer: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime())
    scorecard: Mapped[str] = mapped_column(String(64))  # the scorecard's name
    total: Mapped[float] = mapped_column(Float)  # 0-100; 0 when a critical item failed
    critical_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    answers: Mapped[str] = mapped_column(Text)  # JSON: criterion id -> points given
    comments: Mapped[str] = mapped_column(Text, default="")


class TrainingCall(Base):
    """A call QA marked as training material."""

    __tablename__ = "qa_training"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    marked_by: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


# Indexes of the reports (migration 0018): the later calls of a period's numbers
# (repeat calls), and each agent's state in force at a moment.
Index("ix_cdr_caller_number_queued_at", CallRecord.caller_number, CallRecord.queued_at)
Index("ix_agent_state_log_agent_id_at", AgentStateRecord.agent_id, AgentStateRecord.at)
# The numbers that called in a period, from the index alone (migration 0020).
Index("ix_cdr_queued_at_caller_number", CallRecord.queued_at, CallRecord.caller_number)
