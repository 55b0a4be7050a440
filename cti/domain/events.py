"""Domain events: facts that happened, named in the past tense.

The AMI adapter translates Asterisk events into these; times are epoch
seconds (float) taken from the adapter's clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str  # Asterisk linkedid of the caller's channel
    channel: str
    caller_number: str
    caller_name: str
    at: float


@dataclass(frozen=True, slots=True)
class IvrPathUpdated:
    call_id: str
    path: str  # e.g. "lang=en>menu=2"


@dataclass(frozen=True, slots=True)
class IdentityChecked:
    """The IVR checked the caller's identity (account + PIN)."""

    call_id: str
    verified: bool


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    call_id: str
    path: str  # as Asterisk wrote it


@dataclass(frozen=True, slots=True)
class CallQueued:
    call_id: str
    queue: str
    position: int
    at: float


@dataclass(frozen=True, slots=True)
class AgentRang:
    call_id: str
    agent_id: str
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentRingStopped:
    """The agent was rung but did not take the call (no answer, busy, caller left)."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    agent_id: str
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    call_id: str
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentCallCompleted:
    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: float
    cause: str


@dataclass(frozen=True, slots=True)
class QueueMemberSeen:
    """Asterisk reports a member in a queue (added, status change, resync)."""

    queue: str
    agent_id: str
    interface: str
    paused: bool


@dataclass(frozen=True, slots=True)
class QueueMemberGone:
    queue: str
    agent_id: str


DomainEvent = (
    CallStarted
    | IvrPathUpdated
    | IdentityChecked
    | RecordingStarted
    | CallQueued
    | AgentRang
    | AgentRingStopped
    | CallAnswered
    | CallAbandoned
    | AgentCallCompleted
    | CallEnded
    | QueueMemberSeen
    | QueueMemberGone
)
