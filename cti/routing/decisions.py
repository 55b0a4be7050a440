"""The router's decisions: what it asks the CTI to carry out, in order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent_id`` with ``call_id``; report back with ``offer_answered``/``offer_failed``."""

    call_id: str
    agent_id: str
    route: str
    tier: int  # index of the best accepted requirement the agent meets (0 = first step)
    ring_timeout_s: float
    deadline: float  # RONA at this time unless answered


class CancelReason(StrEnum):
    """Why an offer is cancelled."""

    NO_ANSWER = "no-answer"  # the ring timeout passed (RONA)
    CALLER_LEFT = "caller-left"  # the caller hung up (or was taken elsewhere)
    AGENT_UNAVAILABLE = "agent-unavailable"  # the agent went not-ready while ringing


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``agent_id`` with ``call_id``."""

    call_id: str
    agent_id: str
    reason: CancelReason


@dataclass(frozen=True, slots=True)
class PauseAgent:
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Relaxed:
    call_id: str
    route: str
    step: int
    at: float


@dataclass(frozen=True, slots=True)
class Overflowed:
    call_id: str
    from_route: str
    to_route: str
    at: float


Decision = Offer | CancelOffer | PauseAgent | Relaxed | Overflowed
