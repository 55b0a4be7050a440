"""What the KPIs are computed from: one fact per call offered to a queue, and
the agent state changes. Both ways (live and report) build the same facts."""

from __future__ import annotations

from dataclasses import dataclass

from cti.domain.model import (
    AgentSnapshot,
    CallDetailRecord,
    CallSnapshot,
    CallState,
    Disposition,
)


def ms(seconds: float) -> int:
    """Seconds (a duration or an epoch time) as whole milliseconds."""
    return round(seconds * 1000)


@dataclass(frozen=True, slots=True)
class CallFact:
    """A call that reached a queue. ``final`` is False while an answered call
    is still going (its talk time is not known yet)."""

    call_id: str
    queue: str
    caller_number: str
    agent_id: str | None
    queued_at: float
    answered: bool
    abandoned: bool  # left before an answer (False and not answered: lost)
    final: bool
    wait_ms: int
    talk_ms: int = 0
    hold_ms: int = 0  # not followed yet: always 0
    survey_score: int | None = None  # 1-5
    nps_score: int | None = None  # 0-10
    disposition: str | None = None  # the agent's code

    def with_disposition(self, code: str | None) -> CallFact:
        return CallFact(
            self.call_id,
            self.queue,
            self.caller_number,
            self.agent_id,
            self.queued_at,
            self.answered,
            self.abandoned,
            self.final,
            self.wait_ms,
            self.talk_ms,
            self.hold_ms,
            self.survey_score,
            self.nps_score,
            code,
        )


def fact_of_cdr(cdr: CallDetailRecord, disposition: str | None = None) -> CallFact | None:
    """The fact of a finished call; None when it never reached a queue."""
    if cdr.queue is None or cdr.queued_at is None:
        return None
    answered = cdr.answered_at is not None
    return CallFact(
        call_id=cdr.call_id,
        queue=cdr.queue,
        caller_number=cdr.caller_number,
        agent_id=cdr.agent_id if answered else None,
        queued_at=cdr.queued_at,
        answered=answered,
        abandoned=not answered and cdr.disposition is Disposition.ABANDONED,
        final=True,
        wait_ms=ms(cdr.wait_s),
        talk_ms=ms(cdr.talk_s) if answered else 0,
        survey_score=cdr.survey_score,
        nps_score=cdr.nps_score,
        disposition=disposition,
    )


def fact_of_answer(call: CallSnapshot) -> CallFact | None:
    """The provisional fact of a call being answered (replaced by its CDR's)."""
    if (
        call.state is not CallState.TALKING
        or call.queue is None
        or call.queued_at is None
        or call.answered_at is None
    ):
        return None
    return CallFact(
        call_id=call.call_id,
        queue=call.queue,
        caller_number=call.caller_number,
        agent_id=call.agent_id,
        queued_at=call.queued_at,
        answered=True,
        abandoned=False,
        final=False,
        wait_ms=ms(max(0.0, call.answered_at - call.queued_at)),
    )


@dataclass(frozen=True, slots=True)
class StateChange:
    """An agent's state from ``at`` on (a row of the agent state log).

    ``call_id``: the call rung, talked on, or (``wrap_up``) just finished.
    """

    agent_id: str
    state: str
    reason: str
    call_id: str | None
    at: float


class AgentStateTracker:
    """Turns the core's agent snapshots into state changes (repeats dropped)."""

    def __init__(self) -> None:
        self.last: dict[str, StateChange] = {}

    def observe(self, agent: AgentSnapshot) -> StateChange | None:
        previous = self.last.get(agent.agent_id)
        call_id = agent.call_id
        if agent.state.value == "wrap_up" and call_id is None and previous is not None:
            call_id = previous.call_id  # the call the wrap-up follows
        change = StateChange(
            agent.agent_id, agent.state.value, agent.pause_reason, call_id, agent.state_since
        )
        if previous is not None and (
            previous.state,
            previous.reason,
            previous.at,
        ) == (change.state, change.reason, change.at):
            return None
        if previous is None and change.state == "logged_out":
            return None  # nothing known before: no row for the starting state
        self.last[agent.agent_id] = change
        return change
