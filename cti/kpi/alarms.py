"""Alarms with hysteresis: raised when a figure passes its threshold for
``for_s``, cleared when it is back past ``clear`` for ``clear_for_s``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cti.domain.model import AgentState
from cti.kpi.live import LiveKpis
from cti.kpi.options import AlarmRule
from cti.kpi.red_flags import RedFlagLog, rule_since
from cti.kpi.red_flags import count as red_flags_count

#: the value of a rule for a queue now; None when it cannot be judged (no calls)
Measure = Callable[[AlarmRule, str], float | None]


@dataclass(frozen=True, slots=True)
class Alarm:
    rule: str
    kind: str
    queue: str
    severity: str
    value: float
    threshold: float
    raised_at: float
    cleared_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "queue": self.queue,
            "severity": self.severity,
            "value": self.value,
            "threshold": self.threshold,
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "active": self.cleared_at is None,
        }


@dataclass(slots=True)
class _Watch:
    since: float | None = None  # the condition (raise, or clear when active) holds since


class AlarmEngine:
    def __init__(self, rules: Iterable[AlarmRule]) -> None:
        self.rules = tuple(rules)
        self.active: dict[tuple[str, str], Alarm] = {}
        self._watch: dict[tuple[str, str], _Watch] = {}

    def evaluate(self, measure: Measure, queues: Iterable[str], now: float) -> list[Alarm]:
        """Alarms raised (``cleared_at`` None) or cleared by the values now."""
        changes: list[Alarm] = []
        names = sorted(queues)
        for rule in self.rules:
            for queue in names if rule.queue == "*" else [rule.queue]:
                change = self._step(rule, queue, measure(rule, queue), now)
                if change is not None:
                    changes.append(change)
        return changes

    def _step(self, rule: AlarmRule, queue: str, value: float | None, now: float) -> Alarm | None:
        key = (rule.name, queue)
        watch = self._watch.setdefault(key, _Watch())
        alarm = self.active.get(key)
        if value is None:
            if alarm is None:
                watch.since = None
            return None
        if alarm is None:
            bad = value < rule.threshold if rule.below else value > rule.threshold
            if not bad:
                watch.since = None
                return None
            watch.since = now if watch.since is None else watch.since
            if now - watch.since < rule.for_s:
                return None
            watch.since = None
            raised = Alarm(rule.name, rule.kind, queue, rule.severity, value, rule.threshold, now)
            self.active[key] = raised
            return raised
        good = value >= rule.clear_at if rule.below else value <= rule.clear_at
        if not good:
            watch.since = None
            return None
        watch.since = now if watch.since is None else watch.since
        if now - watch.since < rule.clear_for_s:
            return None
        watch.since = None
        del self.active[key]
        return Alarm(
            alarm.rule,
            alarm.kind,
            queue,
            alarm.severity,
            value,
            alarm.threshold,
            alarm.raised_at,
            cleared_at=now,
        )


def live_measure(live: LiveKpis, now: float, red_flags: RedFlagLog | None = None) -> Measure:
    """A rule's value from the live figures (``qa_red_flags``: from the red flags seen)."""
    flagged: dict[str, dict[str | None, set[str]]] = {}  # by rule: counted once per look

    def measure(rule: AlarmRule, queue: str) -> float | None:
        if rule.kind == "qa_red_flags":
            if red_flags is None:
                return None
            if rule.name not in flagged:
                since = rule_since(rule, now, live.day_start, live.options.window_s)
                flagged[rule.name] = red_flags.calls(rule, since)
            return red_flags_count(flagged[rule.name], queue)
        if rule.kind == "longest_wait":
            return live.longest_wait_s(now, queue)
        if rule.kind == "waiting_calls":
            return float(live.waiting_count(queue))
        if rule.kind == "agents_ready":
            return float(live.agents_in_state(queue, AgentState.READY))
        period = live.window(now, queue) if rule.period == "window" else live.queue_today(queue)
        if period["offered"] < max(1, rule.min_calls):
            return None
        key = "service_level" if rule.kind == "service_level" else "abandon_rate"
        value = period[key]
        return float(value) if value is not None else None

    return measure
