"""Effects: what the core asks the adapters to do or to publish."""

from __future__ import annotations

from dataclasses import dataclass

from cti.domain.model import AgentSnapshot, CallDetailRecord, CallSnapshot, PendingCallback


@dataclass(frozen=True, slots=True)
class AddQueueMember:
    queue: str
    agent_id: str
    interface: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RemoveQueueMember:
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class PauseQueueMember:
    interface: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PublishScreenPop:
    agent_id: str
    call: CallSnapshot


@dataclass(frozen=True, slots=True)
class PublishAgentState:
    agent: AgentSnapshot


@dataclass(frozen=True, slots=True)
class PublishCallUpdate:
    call: CallSnapshot


@dataclass(frozen=True, slots=True)
class StoreCdr:
    cdr: CallDetailRecord


@dataclass(frozen=True, slots=True)
class SaveCallback:
    """Keep (insert or update) a pending call-back; storing the call's CDR removes it."""

    callback: PendingCallback


@dataclass(frozen=True, slots=True)
class ScheduleWrapUpEnd:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferCall:
    """Ring ``interface`` for the caller on ``channel`` (the router's decision)."""

    call_id: str
    channel: str
    agent_id: str
    interface: str
    ring_timeout_s: float


@dataclass(frozen=True, slots=True)
class WithdrawOffer:
    """Stop ringing the agent: the caller goes back to waiting, keeping its place."""

    call_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class PlaceCallback:
    """Call back: ``agent-first`` rings the agent, then dials ``number``;
    ``customer-first`` dials ``number``, then rings the agent."""

    call_id: str
    number: str
    agent_id: str
    interface: str
    ring_timeout_s: float
    order: str = "agent-first"
    customer_ring_s: float = 30.0
    language: str = "en"


@dataclass(frozen=True, slots=True)
class ScheduleRoutingTimer:
    """Call ``CallCenter.routing_timer`` at ``at`` (replaces the previous timer)."""

    at: float


Effect = (
    AddQueueMember
    | RemoveQueueMember
    | PauseQueueMember
    | PublishScreenPop
    | PublishAgentState
    | PublishCallUpdate
    | StoreCdr
    | SaveCallback
    | ScheduleWrapUpEnd
    | OfferCall
    | WithdrawOffer
    | ScheduleRoutingTimer
    | PlaceCallback
)
