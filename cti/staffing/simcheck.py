"""Staffing checked against the routing simulator: does the planned staff reach the target?

For a single-skill scenario (one call type, one route): the scenario's day is
played as the same weekday of ``weeks`` past weeks (fresh seeds) and turned
into stored-call records; the next such day is forecast and planned (Erlang C,
or Erlang A when callers have a patience); then that day is simulated
``replications`` times with exactly the planned agents per interval (an agent
stays on across intervals while the plan keeps them, and finishes the call in
hand when it drops), and the simulated service level (and abandon rate) is
compared with the target and with what Erlang predicted for the staff planned.
Pure (no I/O): used by ``benchmarks/staffing.py`` and the unit tests.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from cti.routing.simulator import AgentGroup, Dist, Scenario, generate_calls, simulate
from cti.staffing.erlang_a import erlang_a
from cti.staffing.forecast import PastCall, forecast, history_days
from cti.staffing.plan import IntervalNeed, ServiceTarget, interval_need

DAY = date(2026, 12, 11)


@dataclass(frozen=True, slots=True)
class SimCheck:
    erlang: str  # "C" or "A"
    target: float
    within_s: float
    agents: tuple[int, ...]  # planned per interval of the scenario's day
    predicted_sl: float  # Erlang's service level with those agents, weighted by calls
    predicted_abandon: float
    simulated_sl: float  # mean over the replications
    simulated_sl_sd: float
    simulated_abandon: float
    calls_per_day: float
    replications: int


def single_skill_parts(scenario: Scenario) -> tuple[str, str, ServiceTarget]:
    if len(scenario.call_types) != 1 or len(scenario.plan.routes) != 1:
        raise ValueError("the staffing check needs a single-skill scenario")
    route = scenario.plan.routes[0]
    skill = next(iter(scenario.agents[0].skills))
    target = ServiceTarget(route.service_level.target, route.service_level.within_s)
    return route.name, skill, target


def history(scenario: Scenario, weeks: int, queue: str) -> list[PastCall]:
    """The scenario's day as the same weekday of ``weeks`` past weeks (one seed each)."""
    calls: list[PastCall] = []
    for k, past in enumerate(history_days(DAY, weeks), start=1):
        midnight = datetime.combine(past, time(0), tzinfo=UTC).timestamp()
        for call in generate_calls(scenario, seed=scenario.seed + 1000 * k):
            calls.append(PastCall(queue, midnight + call.arrival, True, 0.0, call.handle_s))
    return calls


def staffed(scenario: Scenario, agents: tuple[int, ...], skill: str) -> Scenario:
    """The scenario with exactly ``agents[k]`` agents in interval k (contiguous shifts)."""
    groups = []
    for j in range(max(agents, default=0)):
        k = 0
        while k < len(agents):
            if agents[k] > j:
                first = k
                while k < len(agents) and agents[k] > j:
                    k += 1
                groups.append(
                    AgentGroup(
                        team=f"agent{j:03d}-{first:03d}",
                        count=1,
                        skills={skill: 1},
                        shift_start=scenario.start_s + first * scenario.interval_s,
                        shift_end=scenario.start_s + k * scenario.interval_s,
                    )
                )
            else:
                k += 1
    return dataclasses.replace(scenario, agents=tuple(groups))


def check(
    scenario: Scenario,
    *,
    weeks: int = 4,
    replications: int = 10,
    patience_s: float | None = None,
) -> SimCheck:
    """Plan from the forecast and simulate the planned day (see the module docstring)."""
    queue, skill, target = single_skill_parts(scenario)
    interval_min = round(scenario.interval_s / 60)
    fc = forecast(
        history(scenario, weeks, queue),
        DAY,
        weeks=weeks,
        interval_min=interval_min,
        tz=UTC,
        history_start=0.0,
    )
    first = round(scenario.start_s / scenario.interval_s)
    intervals = fc.queues[queue].intervals[first : first + scenario.intervals]
    needs: list[IntervalNeed] = [
        interval_need("", i.calls, i.handle_s, scenario.interval_s, target, patience_s)
        for i in intervals
    ]
    if patience_s is None:
        agents = tuple(n.agents_c for n in needs)
        predicted = [(n.calls, n.service_level_c, 0.0) for n in needs]
    else:
        agents = tuple(n.agents_a or 0 for n in needs)
        predicted = []
        for n, i in zip(needs, intervals, strict=True):
            fig = erlang_a(
                n.agents_a or 0,
                i.calls / scenario.interval_s,
                i.handle_s,
                patience_s,
                target.within_s,
            )
            predicted.append((n.calls, fig.service_level, fig.p_abandon))
    weight = sum(c for c, _, _ in predicted) or 1.0
    ct = scenario.call_types[0]
    if patience_s is not None:
        ct = dataclasses.replace(ct, patience=Dist("exponential", patience_s))
    day = dataclasses.replace(staffed(scenario, agents, skill), call_types=(ct,))
    levels, abandons = [], []
    for rep in range(replications):
        result = simulate(dataclasses.replace(day, seed=scenario.seed + 7 + rep), "router")
        levels.append(result.total.service_level)
        abandons.append(result.total.abandon_rate)
    return SimCheck(
        erlang="C" if patience_s is None else "A",
        target=target.target,
        within_s=target.within_s,
        agents=agents,
        predicted_sl=sum(c * sl for c, sl, _ in predicted) / weight,
        predicted_abandon=sum(c * ab for c, _, ab in predicted) / weight,
        simulated_sl=statistics.fmean(levels),
        simulated_sl_sd=statistics.stdev(levels) if len(levels) > 1 else 0.0,
        simulated_abandon=statistics.fmean(abandons),
        calls_per_day=sum(i.calls for i in intervals),
        replications=replications,
    )
