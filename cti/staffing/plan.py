"""Agents needed per queue and interval to reach each queue's service-level target.

From a :class:`~cti.staffing.forecast.Forecast`: the offered load of an
interval is ``calls x handle time / interval length`` Erlangs; Erlang C gives
the fewest agents answering ``target`` of the calls within ``within_s``
seconds when nobody hangs up, Erlang A the same with the queue's measured
caller patience (callers who give up free the line, so fewer agents reach the
same share, abandons counting against it). Beside it, the agents logged in
now per queue. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cti.domain.model import AgentSnapshot, AgentState
from cti.routing import erlang
from cti.staffing.erlang_a import agents_for_service_level_a, erlang_a
from cti.staffing.forecast import Forecast


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    target: float = 0.8  # share of offered calls
    within_s: float = 20.0  # answered within

    def __post_init__(self) -> None:
        if not 0 < self.target < 1 or self.within_s < 0:
            raise ValueError("a service-level target is a share in (0, 1) and a time >= 0")


@dataclass(frozen=True, slots=True)
class IntervalNeed:
    start: str  # "HH:MM" local time
    calls: float
    handle_s: float
    traffic: float  # Erlangs
    agents_c: int  # Erlang C
    service_level_c: float  # Erlang C's service level with agents_c
    agents_a: int | None  # Erlang A (None: no patience measured)
    service_level_a: float | None  # Erlang A's service level with agents_a
    abandon_a: float | None  # Erlang A's abandon rate with agents_a


@dataclass(frozen=True, slots=True)
class QueuePlan:
    queue: str
    target: ServiceTarget
    patience_s: float | None
    intervals: tuple[IntervalNeed, ...]

    @property
    def peak_c(self) -> int:
        return max((i.agents_c for i in self.intervals), default=0)


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    forecast: Forecast
    queues: tuple[QueuePlan, ...]


def interval_need(
    start: str,
    calls: float,
    handle_s: float,
    interval_s: float,
    target: ServiceTarget,
    patience_s: float | None,
) -> IntervalNeed:
    """Erlang C (and A) agents for one interval's forecast."""
    rate = calls / interval_s
    traffic = rate * handle_s
    if calls <= 0:
        no_a = None if patience_s is None else 0
        return IntervalNeed(start, 0.0, handle_s, 0.0, 0, 1.0, no_a, None, None)
    agents_c = erlang.agents_for_service_level(traffic, handle_s, target.within_s, target.target)
    sl_c = erlang.service_level(agents_c, traffic, handle_s, target.within_s)
    agents_a: int | None = None
    sl_a: float | None = None
    abandon_a: float | None = None
    if patience_s is not None:
        agents_a = agents_for_service_level_a(
            rate, handle_s, patience_s, target.within_s, target.target
        )
        figures = erlang_a(agents_a, rate, handle_s, patience_s, target.within_s)
        sl_a, abandon_a = figures.service_level, figures.p_abandon
    return IntervalNeed(start, calls, handle_s, traffic, agents_c, sl_c, agents_a, sl_a, abandon_a)


def staffing_plan(
    fc: Forecast,
    targets: Mapping[str, ServiceTarget],
    default: ServiceTarget,
) -> StaffingPlan:
    """Every queue of the forecast, every interval of the day."""
    interval_s = fc.interval_min * 60.0
    plans = []
    for name, queue in sorted(fc.queues.items()):
        target = targets.get(name, default)
        plans.append(
            QueuePlan(
                queue=name,
                target=target,
                patience_s=queue.patience_s,
                intervals=tuple(
                    interval_need(
                        i.start.strftime("%H:%M"),
                        i.calls,
                        i.handle_s,
                        interval_s,
                        target,
                        queue.patience_s,
                    )
                    for i in queue.intervals
                ),
            )
        )
    return StaffingPlan(fc, tuple(plans))


@dataclass(frozen=True, slots=True)
class QueueStaff:
    """Agents in a queue now: logged in (any state but logged out) and ready."""

    logged_in: int = 0
    ready: int = 0
    talking: int = 0


def staff_now(agents: Iterable[AgentSnapshot]) -> dict[str, QueueStaff]:
    """Per queue; an agent serving several queues counts in each of them."""
    counts: dict[str, list[int]] = {}
    for agent in agents:
        if agent.state is AgentState.LOGGED_OUT:
            continue
        for queue in agent.queues:
            row = counts.setdefault(queue, [0, 0, 0])
            row[0] += 1
            row[1] += agent.state is AgentState.READY
            row[2] += agent.state is AgentState.TALKING
    return {q: QueueStaff(*row) for q, row in sorted(counts.items())}
