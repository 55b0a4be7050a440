"""Domain events: facts that happened, named in the past tense.

The AMI adapter translates Asterisk events into these; times are epoch
seconds (float) taken from the adapter's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.domain.model import CallbackState


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
class SurveyStarted:
    """The agent hung up first; the caller went on to the post-call survey."""

    call_id: str
    at: float


@dataclass(frozen=True, slots=True)
class SurveyAnswered:
    """The caller rated the call (1-5) in the post-call survey."""

    call_id: str
    score: int


@dataclass(frozen=True, slots=True)
class NpsAnswered:
    """The caller answered the survey's 0-10 "would you recommend us" question."""

    call_id: str
    score: int


@dataclass(frozen=True, slots=True)
class VoicemailRecorded:
    """The IVR recorded a message from the caller (outside business hours)."""

    call_id: str
    path: str  # as Asterisk wrote it


@dataclass(frozen=True, slots=True)
class IvrTransferred:
    """The IVR sent the caller to another number (a transfer node)."""

    call_id: str
    target: str


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


# ------------------------------------------------ routing by the CTI's router
@dataclass(frozen=True, slots=True)
class CallWaiting:
    """The caller waits for the router to pick an agent (after the IVR, or a transfer).

    ``language``/``product``/``urgency`` come from the IVR (empty: unknown);
    ``tier`` from the customer record (the adapter looks it up).
    """

    call_id: str
    queue: str
    language: str
    product: str
    urgency: int
    tier: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferRinging:
    """Asterisk rings the agent our router offered the call to."""

    call_id: str
    interface: str  # e.g. PJSIP/agent1001
    at: float


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    call_id: str
    interface: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """The offer ended unanswered: Asterisk's DIALSTATUS (NOANSWER, BUSY, CANCEL...)."""

    call_id: str
    interface: str
    status: str
    at: float


@dataclass(frozen=True, slots=True)
class RoutingFallback:
    """The dialplan gave the call to app_queue: it found the CTI silent too long."""

    call_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The waiting caller chose to be called back on ``number``, keeping its place."""

    call_id: str
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackProgress:
    """How a call-back we placed goes; when the customer's leg ended
    (``CallbackState.ENDED``), ``dial_status`` is its Asterisk DIALSTATUS
    (ANSWER, NOANSWER, BUSY...)."""

    call_id: str
    agent_id: str
    state: CallbackState
    at: float
    dial_status: str = ""


DomainEvent = (
    CallStarted
    | IvrPathUpdated
    | IdentityChecked
    | SurveyStarted
    | SurveyAnswered
    | NpsAnswered
    | VoicemailRecorded
    | IvrTransferred
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
    | CallWaiting
    | OfferRinging
    | OfferAnswered
    | OfferFailed
    | RoutingFallback
    | CallbackRequested
    | CallbackProgress
)
