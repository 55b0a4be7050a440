"""Counters (exact, additive integers) and the KPI formulas over them.

A call adds its ``contribution``; a period's figures are ``figures(sum of
contributions)``. Durations are whole milliseconds, so any order of adding
gives the same result: the live figures and the report agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from cti.kpi.facts import CallFact, StateChange, ms
from cti.kpi.options import KpiOptions


@dataclass(slots=True)
class Counters:
    offered: int = 0  # reached the queue (short abandons left out when excluded)
    answered: int = 0
    answered_in_sl: int = 0  # answered within the queue's threshold
    abandoned: int = 0
    short_abandoned: int = 0  # abandoned within short_abandon_s
    lost: int = 0  # vanished while the CTI could not see it
    handled: int = 0  # answered and finished (talk time known)
    wait_ms: int = 0  # of answered calls
    max_wait_ms: int = 0  # of any call
    talk_ms: int = 0
    hold_ms: int = 0
    wrap_ms: int = 0
    fcr_calls: int = 0
    fcr_resolved: int = 0
    complaints: int = 0
    repeat_complaints: int = 0
    surveys: int = 0
    survey_sum: int = 0
    survey_good: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0

    def add(self, other: Counters) -> None:
        # written out: a report adds one contribution per call (tens of thousands)
        self.offered += other.offered
        self.answered += other.answered
        self.answered_in_sl += other.answered_in_sl
        self.abandoned += other.abandoned
        self.short_abandoned += other.short_abandoned
        self.lost += other.lost
        self.handled += other.handled
        self.wait_ms += other.wait_ms
        self.max_wait_ms = max(self.max_wait_ms, other.max_wait_ms)
        self.talk_ms += other.talk_ms
        self.hold_ms += other.hold_ms
        self.wrap_ms += other.wrap_ms
        self.fcr_calls += other.fcr_calls
        self.fcr_resolved += other.fcr_resolved
        self.complaints += other.complaints
        self.repeat_complaints += other.repeat_complaints
        self.surveys += other.surveys
        self.survey_sum += other.survey_sum
        self.survey_good += other.survey_good
        self.nps_answers += other.nps_answers
        self.promoters += other.promoters
        self.detractors += other.detractors

    def subtract(self, other: Counters) -> None:
        """Take a contribution back (to replace it); the maximum is kept."""
        self.offered -= other.offered
        self.answered -= other.answered
        self.answered_in_sl -= other.answered_in_sl
        self.abandoned -= other.abandoned
        self.short_abandoned -= other.short_abandoned
        self.lost -= other.lost
        self.handled -= other.handled
        self.wait_ms -= other.wait_ms
        self.talk_ms -= other.talk_ms
        self.hold_ms -= other.hold_ms
        self.wrap_ms -= other.wrap_ms
        self.fcr_calls -= other.fcr_calls
        self.fcr_resolved -= other.fcr_resolved
        self.complaints -= other.complaints
        self.repeat_complaints -= other.repeat_complaints
        self.surveys -= other.surveys
        self.survey_sum -= other.survey_sum
        self.survey_good -= other.survey_good
        self.nps_answers -= other.nps_answers
        self.promoters -= other.promoters
        self.detractors -= other.detractors

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def total(parts: Iterable[Counters]) -> Counters:
    result = Counters()
    for part in parts:
        result.add(part)
    return result


def contribution(
    fact: CallFact,
    options: KpiOptions,
    *,
    repeated: bool = False,
    repeat_complaint: bool = False,
    wrap_ms: int = 0,
) -> Counters:
    """What one call adds to its period, queue and agent."""
    c = Counters(max_wait_ms=fact.wait_ms)
    sl = options.service_level
    if fact.answered:
        c.offered = c.answered = 1
        c.wait_ms = fact.wait_ms
        c.answered_in_sl = int(fact.wait_ms <= options.threshold_ms(fact.queue))
    elif fact.abandoned:
        short = fact.wait_ms < ms(sl.short_abandon_s)
        c.short_abandoned = int(short)
        if not (short and sl.exclude_short_abandons):
            c.offered = c.abandoned = 1
    else:
        c.offered = c.lost = 1
    if fact.answered and fact.final:
        c.handled = 1
        c.talk_ms, c.hold_ms, c.wrap_ms = fact.talk_ms, fact.hold_ms, wrap_ms
        if fact.caller_number:
            c.fcr_calls = 1
            by_code = fact.disposition in options.fcr.resolved_codes
            mode = options.fcr.mode
            resolved = (
                not repeated
                if mode == "repeat"
                else by_code
                if mode == "disposition"
                else by_code and not repeated
            )
            c.fcr_resolved = int(resolved)
    if fact.disposition in options.complaints.codes:
        c.complaints = 1
        c.repeat_complaints = int(repeat_complaint)
    if fact.survey_score is not None:
        c.surveys, c.survey_sum = 1, fact.survey_score
        c.survey_good = int(fact.survey_score >= options.csat_good)
    if fact.nps_score is not None:
        c.nps_answers = 1
        c.promoters = int(fact.nps_score >= 9)
        c.detractors = int(fact.nps_score <= 6)
    return c


def is_complaint(fact: CallFact, options: KpiOptions) -> bool:
    return fact.disposition in options.complaints.codes


def ratio(num: int, den: int) -> float | None:
    """``num / den`` to 4 places; None when there is nothing to divide by."""
    return round(num / den, 4) if den else None


def _mean_s(total_ms: int, count: int) -> float | None:
    return round(total_ms / count / 1000, 3) if count else None


def figures(c: Counters, target: float | None = None) -> dict[str, Any]:
    """The KPIs of a period from its counters (None: nothing to compute from)."""
    handle = c.talk_ms + c.hold_ms + c.wrap_ms
    return {
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned,
        "lost": c.lost,
        "service_level": ratio(c.answered_in_sl, c.offered),
        "service_level_target": target,
        "answer_rate": ratio(c.answered, c.offered),
        "abandon_rate": ratio(c.abandoned, c.offered),
        "asa_s": _mean_s(c.wait_ms, c.answered),
        "aht_s": _mean_s(handle, c.handled),
        "talk_s": round(c.talk_ms / 1000, 3),
        "wrap_s": round(c.wrap_ms / 1000, 3),
        "max_wait_s": round(c.max_wait_ms / 1000, 3),
        "fcr": ratio(c.fcr_resolved, c.fcr_calls),
        "repeat_complaint_rate": ratio(c.repeat_complaints, c.complaints),
        "complaints": c.complaints,
        "csat": round(c.survey_sum / c.surveys, 3) if c.surveys else None,
        "csat_good_share": ratio(c.survey_good, c.surveys),
        "surveys": c.surveys,
        "nps": round(100 * (c.promoters - c.detractors) / c.nps_answers, 1)
        if c.nps_answers
        else None,
        "nps_answers": c.nps_answers,
    }


# ------------------------------------------------------------------ agent time
WORK_STATES = frozenset({"talking", "wrap_up"})
AVAILABLE_STATES = frozenset({"ready", "ringing", "talking", "wrap_up"})


@dataclass(slots=True)
class AgentTime:
    """Milliseconds an agent spent in each state (and paused by reason)."""

    by_state: dict[str, int] = field(default_factory=dict)
    paused_by_reason: dict[str, int] = field(default_factory=dict)
    logins: int = 0  # times the agent logged in

    def add_stint(self, state: str, reason: str, start_ms: int, end_ms: int) -> None:
        if end_ms <= start_ms:
            return
        span = end_ms - start_ms
        self.by_state[state] = self.by_state.get(state, 0) + span
        if state == "paused":
            self.paused_by_reason[reason] = self.paused_by_reason.get(reason, 0) + span

    def merge(self, other: AgentTime) -> None:
        for k, v in other.by_state.items():
            self.by_state[k] = self.by_state.get(k, 0) + v
        for k, v in other.paused_by_reason.items():
            self.paused_by_reason[k] = self.paused_by_reason.get(k, 0) + v
        self.logins += other.logins

    def work_available(self) -> tuple[int, int]:
        """Milliseconds at work (talking, wrap-up) and available (work, ready, ringing)."""
        s = self.by_state
        return sum(s.get(k, 0) for k in WORK_STATES), sum(s.get(k, 0) for k in AVAILABLE_STATES)

    def figures(self) -> dict[str, Any]:
        s = self.by_state
        logged_in = sum(v for k, v in s.items() if k != "logged_out")
        work, available = self.work_available()
        return {
            "logins": self.logins,
            "logged_in_s": round(logged_in / 1000, 3),
            "ready_s": round(s.get("ready", 0) / 1000, 3),
            "ringing_s": round(s.get("ringing", 0) / 1000, 3),
            "talking_s": round(s.get("talking", 0) / 1000, 3),
            "wrap_up_s": round(s.get("wrap_up", 0) / 1000, 3),
            "paused_s": round(s.get("paused", 0) / 1000, 3),
            "paused_by_reason_s": {
                k: round(v / 1000, 3) for k, v in sorted(self.paused_by_reason.items())
            },
            "occupancy": ratio(work, available),
        }


def agent_time(
    initial: Mapping[str, StateChange],
    changes: Iterable[StateChange],
    start: float,
    until: float,
) -> dict[str, AgentTime]:
    """Time per agent in [start, until) from the state in force at ``start``
    (``initial``, by agent) and the changes after it (in time order)."""
    lo, hi = ms(start), ms(until)
    result: dict[str, AgentTime] = {}
    current: dict[str, StateChange] = dict(initial)
    for change in changes:
        if change.at >= until:
            break
        time = result.setdefault(change.agent_id, AgentTime())
        before = current.get(change.agent_id)
        if before is not None:
            time.add_stint(before.state, before.reason, max(lo, ms(before.at)), ms(change.at))
        if change.state != "logged_out" and (before is None or before.state == "logged_out"):
            time.logins += int(change.at >= start)
        current[change.agent_id] = change
    for agent_id, before in current.items():
        time = result.setdefault(agent_id, AgentTime())
        time.add_stint(before.state, before.reason, max(lo, ms(before.at)), hi)
    return result


def wrap_ms_by_call(changes: Iterable[StateChange]) -> dict[str, int]:
    """Wrap-up time per call: each closed wrap-up stint, by the call it follows."""
    open_wrap: dict[str, StateChange] = {}
    result: dict[str, int] = {}
    for change in changes:
        previous = open_wrap.pop(change.agent_id, None)
        if previous is not None and previous.call_id:
            span = max(0, ms(change.at) - ms(previous.at))
            result[previous.call_id] = result.get(previous.call_id, 0) + span
        if change.state == "wrap_up":
            open_wrap[change.agent_id] = change
    return result
