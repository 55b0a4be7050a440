"""State of calls, agents and queues, with their immutable snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cti.routing.model import CallAttributes


class CallState(StrEnum):
    IVR = "ivr"
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"


class Disposition(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # left the queue before an agent answered
    IVR_ONLY = "ivr_only"  # hung up before reaching a queue
    VOICEMAIL = "voicemail"  # left a message in the IVR (outside business hours)
    TRANSFERRED = "transferred"  # the IVR sent the caller to another number
    LOST = "lost"  # vanished while the CTI could not see it (resync)


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"


class CallbackOrder(StrEnum):
    """Which leg of a queue call-back is dialled first."""

    AGENT_FIRST = "agent-first"
    CUSTOMER_FIRST = "customer-first"


class CallbackState(StrEnum):
    """How a call-back try goes (``HOTLINE_CALLBACK_STATE``, Originate and Dial events)."""

    AGENT_RINGING = "agent-ringing"  # customer first: the agent's phone rings now
    AGENT_ANSWERED = "agent-answered"
    AGENT_FAILED = "agent-failed"  # the agent's phone did not answer (or could not ring)
    CUSTOMER_ANSWERED = "customer-answered"  # customer first: the customer is on the line
    CUSTOMER_FAILED = "customer-failed"  # customer first: the customer was not reached
    CUSTOMER_LEFT = "customer-left"  # customer first: hung up while the agent rang
    ENDED = "ended"  # the customer's leg ended: its dial status tells how


@dataclass(slots=True)
class Call:
    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    started_at: float
    state: CallState = CallState.IVR
    ivr_path: str = ""
    queue: str | None = None
    queued_at: float | None = None
    agent_id: str | None = None
    rung_agents: list[str] = field(default_factory=list)
    answered_at: float | None = None
    ended_at: float | None = None
    recording_path: str | None = None
    abandoned: bool = False
    verified: bool = False  # identity checked by the IVR (account + PIN)
    talk_ended_at: float | None = None  # the agent left, the caller went to the survey
    survey_score: int | None = None  # 1-5 from the post-call survey
    nps_score: int | None = None  # 0-10, the survey's optional "recommend us" question
    voicemail_path: str | None = None  # message left in the IVR, as Asterisk wrote it
    transfer_target: str | None = None  # number the IVR sent the caller to
    # queue call-back: the number the caller asked to be called back on; once the
    # caller has hung up the call waits on (channel "") until an agent is free
    callback_number: str | None = None
    awaiting_callback: bool = False
    callback_attempts: int = 0
    callback_outcome: str | None = None  # answered | failed:<last dial status>
    routing_attributes: CallAttributes | None = None  # what the router was given, for retries

    def snapshot(self, now: float) -> CallSnapshot:
        return CallSnapshot(
            call_id=self.call_id,
            state=self.state,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            ivr_path=self.ivr_path,
            queue=self.queue,
            agent_id=self.agent_id,
            started_at=self.started_at,
            queued_at=self.queued_at,
            answered_at=self.answered_at,
            waited_s=self.wait_seconds(now),
            verified=self.verified,
        )

    def wait_seconds(self, now: float) -> float:
        """Seconds in queue: until answered, ended, or now."""
        if self.queued_at is None:
            return 0.0
        end = self.answered_at or self.ended_at or now
        return max(0.0, end - self.queued_at)

    def talk_seconds(self, ended_at: float) -> float:
        """Seconds with the agent: from the answer until the agent or the caller left."""
        if self.answered_at is None:
            return 0.0
        end = min(ended_at, self.talk_ended_at or ended_at)
        return max(0.0, end - self.answered_at)

    def disposition(self) -> Disposition:
        if self.answered_at is not None:
            return Disposition.ANSWERED
        if self.queued_at is not None:
            return Disposition.ABANDONED
        if self.voicemail_path is not None:
            return Disposition.VOICEMAIL
        if self.transfer_target is not None:
            return Disposition.TRANSFERRED
        return Disposition.IVR_ONLY


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    call_id: str
    state: CallState
    caller_number: str
    caller_name: str
    ivr_path: str
    queue: str | None
    agent_id: str | None
    started_at: float
    queued_at: float | None
    answered_at: float | None
    waited_s: float
    verified: bool = False


@dataclass(slots=True)
class Agent:
    agent_id: str
    interface: str
    queues: tuple[str, ...]
    wrap_up_s: float = 0.0
    state: AgentState = AgentState.LOGGED_OUT
    pause_reason: str = ""
    call_id: str | None = None
    state_since: float = 0.0

    def snapshot(self) -> AgentSnapshot:
        return AgentSnapshot(
            agent_id=self.agent_id,
            state=self.state,
            pause_reason=self.pause_reason,
            call_id=self.call_id,
            queues=self.queues,
            state_since=self.state_since,
        )


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    state: AgentState
    pause_reason: str
    call_id: str | None
    queues: tuple[str, ...]
    state_since: float


@dataclass(slots=True)
class QueueMember:
    agent_id: str
    interface: str
    paused: bool


@dataclass(slots=True)
class Queue:
    name: str
    members: dict[str, QueueMember] = field(default_factory=dict)  # by agent id


@dataclass(frozen=True, slots=True)
class PendingCallback:
    """A call-back the caller was promised and has not had yet: kept in the
    database so that a restart of the CTI neither forgets it nor loses its
    place in line (``queued_at``)."""

    call_id: str
    caller_number: str
    caller_name: str
    callback_number: str
    ivr_path: str
    queue: str
    entered_at: float
    queued_at: float
    language: str
    product: str
    tier: str
    urgency: int
    verified: bool
    recording_path: str | None
    attempts: int  # tries that ended without a conversation
    # a try was being placed (Originate sent) and its end not seen yet: after a
    # restart its outcome is looked up in Asterisk before any new try
    in_flight: bool = False


@dataclass(frozen=True, slots=True)
class CallDetailRecord:
    call_id: str
    caller_number: str
    caller_name: str
    ivr_path: str
    queue: str | None
    agent_id: str | None
    entered_at: float
    queued_at: float | None
    answered_at: float | None
    ended_at: float
    wait_s: float
    talk_s: float
    disposition: Disposition
    recording_path: str | None
    verified: bool = False
    survey_score: int | None = None
    voicemail_path: str | None = None
    callback_outcome: str | None = None
    nps_score: int | None = None  # 0-10

    @classmethod
    def of(
        cls, call: Call, ended_at: float, disposition: Disposition | None = None
    ) -> CallDetailRecord:
        talk = call.talk_seconds(ended_at)
        return cls(
            call_id=call.call_id,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            ivr_path=call.ivr_path,
            queue=call.queue,
            agent_id=call.agent_id,
            entered_at=call.started_at,
            queued_at=call.queued_at,
            answered_at=call.answered_at,
            ended_at=ended_at,
            wait_s=call.wait_seconds(ended_at),
            talk_s=talk,
            disposition=disposition or call.disposition(),
            recording_path=call.recording_path if call.answered_at is not None else None,
            verified=call.verified,
            survey_score=call.survey_score,
            voicemail_path=call.voicemail_path,
            callback_outcome=call.callback_outcome,
            nps_score=call.nps_score,
        )
