"""Live KPIs: the core's effects folded, incrementally, into figures for "now",
"today" and the sliding window.

The only input is the stream of effects (``observe``), plus the agent's
disposition (``disposition``): calls come from ``PublishCallUpdate`` (waiting,
answered) and ``StoreCdr`` (finished), agents from ``PublishAgentState``.
Calls count in the period in which they reached the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cti.domain import effects as fx
from cti.domain.model import AgentSnapshot, AgentState, CallState
from cti.kpi.book import CallBook
from cti.kpi.calendar import Calendar, bucket
from cti.kpi.facts import AgentStateTracker, CallFact, StateChange, fact_of_answer, fact_of_cdr, ms
from cti.kpi.figures import (
    AVAILABLE_STATES,
    WORK_STATES,
    AgentTime,
    Counters,
    figures,
    ratio,
    total,
)
from cti.kpi.options import KpiOptions

MINUTE = 60.0


@dataclass(slots=True)
class Observed:
    """What one batch of effects changed: figures (push the board) and agent states (log)."""

    changed: bool = False
    state_changes: list[StateChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Place:
    queue: str
    minute: int
    agent_id: str | None


class LiveKpis:
    def __init__(
        self,
        options: KpiOptions,
        calendar: Calendar,
        now: float,
        queues: Iterable[str] = (),
        interval_s: int = 900,
    ) -> None:
        self.options, self.calendar, self.interval_s = options, calendar, interval_s
        self.queues: set[str] = set(queues) | set(options.queues)
        self.tracker = AgentStateTracker()
        self.agents: dict[str, AgentSnapshot] = {}
        self.waiting: dict[str, tuple[str, float]] = {}  # call id -> queue, queued at
        self._dispositions: dict[str, str] = {}  # given before the call's CDR
        self._start_day(calendar.day_start(now))

    def _start_day(self, day_start: float) -> None:
        self.day_start = day_start
        self.day_end = self.calendar.next_day(day_start)
        self.book = CallBook(self.options)
        self._contrib: dict[str, tuple[_Place, Counters]] = {}
        self.by_queue: dict[str, Counters] = {}
        self.by_agent: dict[str, Counters] = {}
        self.by_minute: dict[tuple[str, int], Counters] = {}
        self.agent_time: dict[str, AgentTime] = {}

    def roll(self, now: float) -> bool:
        """Start a new day at midnight; True when it did."""
        if now < self.day_end:
            return False
        for agent_id, last in self.tracker.last.items():
            self._close_stint(agent_id, last, self.day_end)
        self._dispositions.clear()
        self._start_day(self.calendar.day_start(now))
        return True

    # ------------------------------------------------------------ input
    def observe(self, effects: Iterable[fx.Effect], now: float) -> Observed:
        out = Observed(changed=self.roll(now))
        for effect in effects:
            match effect:
                case fx.PublishCallUpdate(call=call):
                    waiting = (
                        call.state in (CallState.QUEUED, CallState.RINGING)
                        and call.queue is not None
                        and call.queued_at is not None
                        and call.answered_at is None
                    )
                    if waiting and call.queue is not None and call.queued_at is not None:
                        self.queues.add(call.queue)
                        out.changed |= self.waiting.get(call.call_id) != (
                            call.queue,
                            call.queued_at,
                        )
                        self.waiting[call.call_id] = (call.queue, call.queued_at)
                    elif self.waiting.pop(call.call_id, None) is not None:
                        out.changed = True
                    answer = fact_of_answer(call)
                    if answer is not None:
                        current = self.book.facts.get(call.call_id)
                        if current is None or not current.final:
                            out.changed |= self._put(answer)
                case fx.StoreCdr(cdr=cdr):
                    fact = fact_of_cdr(cdr, self._dispositions.pop(cdr.call_id, None))
                    if fact is not None:
                        out.changed |= self._put(fact)
                case fx.PublishAgentState(agent=agent):
                    self.agents[agent.agent_id] = agent
                    before = self.tracker.last.get(agent.agent_id)
                    change = self.tracker.observe(agent)
                    if change is not None:
                        self._account(change, before)
                        out.state_changes.append(change)
                        out.changed = True
                case _:
                    pass
        return out

    def disposition(self, call_id: str, code: str) -> bool:
        """The agent's disposition code of a call (before or after its CDR)."""
        fact = self.book.facts.get(call_id)
        if fact is None or not fact.final:
            self._dispositions[call_id] = code
            return False
        return self._put(fact.with_disposition(code))

    def _account(self, change: StateChange, before: StateChange | None) -> None:
        """Close the agent's previous stint (and the wrap-up of its call) at ``change``."""
        time = self.agent_time.setdefault(change.agent_id, AgentTime())
        if before is not None:
            self._close_stint(change.agent_id, before, change.at)
            if before.state == "wrap_up" and before.call_id and before.call_id in self.book.facts:
                self.book.add_wrap(before.call_id, max(0, ms(change.at) - ms(before.at)))
                self._recount(before.call_id)
        if change.state != "logged_out" and (before is None or before.state == "logged_out"):
            time.logins += int(change.at >= self.day_start)

    def seed(
        self,
        facts: Iterable[CallFact],
        initial: dict[str, StateChange],
        changes: Iterable[StateChange],
    ) -> None:
        """Today so far, read back from storage at start (the same facts and log rows)."""
        self.tracker.last.update(initial)
        for fact in facts:
            self._put(fact)
        for change in changes:
            self.record(change)

    def record(self, change: StateChange) -> None:
        """A state change known from elsewhere (the log at start, a restart)."""
        before = self.tracker.last.get(change.agent_id)
        self.tracker.last[change.agent_id] = change
        self._account(change, before)

    # ------------------------------------------------------------ bookkeeping
    def _close_stint(self, agent_id: str, before: StateChange, end: float) -> None:
        time = self.agent_time.setdefault(agent_id, AgentTime())
        time.add_stint(before.state, before.reason, max(ms(self.day_start), ms(before.at)), ms(end))

    def _put(self, fact: CallFact) -> bool:
        if not self.day_start <= fact.queued_at < self.day_end:
            return False
        self.queues.add(fact.queue)
        affected = self.book.put(fact)
        for call_id in affected:
            self._recount(call_id)
        return True

    def _recount(self, call_id: str) -> None:
        fact = self.book.facts[call_id]
        old = self._contrib.get(call_id)
        if old is not None:
            place, counters = old
            for part in self._parts(place):
                part.subtract(counters)
        place = _Place(fact.queue, bucket(fact.queued_at, self.day_start, MINUTE), fact.agent_id)
        counters = self.book.contribution(call_id)
        for part in self._parts(place):
            part.add(counters)
        self._contrib[call_id] = (place, counters)

    def _parts(self, place: _Place) -> list[Counters]:
        parts = [
            self.by_queue.setdefault(place.queue, Counters()),
            self.by_minute.setdefault((place.queue, place.minute), Counters()),
        ]
        if place.agent_id is not None:
            parts.append(self.by_agent.setdefault(place.agent_id, Counters()))
        return parts

    # ------------------------------------------------------------ output
    def queue_today(self, queue: str) -> dict[str, Any]:
        return figures(self.by_queue.get(queue, Counters()), self.options.target(queue))

    def today(self) -> dict[str, Any]:
        return figures(total(self.by_queue.values()), self.options.service_level.target)

    def window(self, now: float, queue: str | None = None) -> dict[str, Any]:
        """The last ``window_s`` (whole minutes, by the time calls reached the queue)."""
        last = bucket(now, self.day_start, MINUTE)
        first = last - self.options.window_s // 60 + 1
        parts = [
            c
            for (q, minute), c in self.by_minute.items()
            if first <= minute <= last and (queue is None or q == queue)
        ]
        target = self.options.target(queue) if queue else self.options.service_level.target
        return figures(total(parts), target)

    def agent_times(self, now: float) -> dict[str, AgentTime]:
        """Time per agent today, the current state counted up to ``now``."""
        result: dict[str, AgentTime] = {}
        for agent_id in set(self.agent_time) | set(self.tracker.last):
            time = AgentTime()
            time.merge(self.agent_time.get(agent_id, AgentTime()))
            current = self.tracker.last.get(agent_id)
            if current is not None:
                lo = max(ms(self.day_start), ms(current.at))
                time.add_stint(current.state, current.reason, lo, ms(now))
            result[agent_id] = time
        return result

    def occupancies(self, now: float, only: Iterable[str] | None = None) -> dict[str, float | None]:
        """Each agent's occupancy today (or of the agents ``only``), the current
        state counted up to ``now`` (``agent_times(now)[agent].figures()["occupancy"]``,
        without building them)."""
        hi, day_lo = ms(now), ms(self.day_start)
        result: dict[str, float | None] = {}
        known = set(self.agent_time) | set(self.tracker.last)
        for agent_id in known if only is None else known.intersection(only):
            time = self.agent_time.get(agent_id)
            work, available = time.work_available() if time is not None else (0, 0)
            current = self.tracker.last.get(agent_id)
            if current is not None:
                span = hi - max(day_lo, ms(current.at))
                if span > 0:
                    work += span if current.state in WORK_STATES else 0
                    available += span if current.state in AVAILABLE_STATES else 0
            result[agent_id] = ratio(work, available)
        return result

    def agent_today(self, agent_id: str, now: float) -> dict[str, Any]:
        calls = figures(self.by_agent.get(agent_id, Counters()))
        time = self.agent_times(now).get(agent_id, AgentTime())
        return {"agent_id": agent_id, "calls": calls, "time": time.figures()}

    def intervals(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Today per interval (``interval_s``), up to the last one with calls."""
        per = self.interval_s // 60
        grouped: dict[int, Counters] = {}
        for (q, minute), c in self.by_minute.items():
            if queue is None or q == queue:
                grouped.setdefault(minute // per, Counters()).add(c)
        target = self.options.target(queue) if queue else self.options.service_level.target
        rows = []
        for index in sorted(grouped):
            start = self.day_start + index * self.interval_s
            rows.append(
                {"start": start, "label": self.calendar.local_time(start)}
                | figures(grouped[index], target)
            )
        return rows

    def longest_wait_s(self, now: float, queue: str | None = None) -> float:
        waits = [now - at for q, at in self.waiting.values() if queue is None or q == queue]
        return round(max(waits, default=0.0), 1)

    def waiting_count(self, queue: str | None = None) -> int:
        return sum(1 for q, _ in self.waiting.values() if queue is None or q == queue)

    def agents_in_state(self, queue: str, state: AgentState) -> int:
        return sum(1 for a in self.agents.values() if a.state is state and queue in a.queues)
