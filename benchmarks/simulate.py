"""Play a contact-centre day with our router and with app_queue-like baselines.

Usage: python benchmarks/simulate.py [SCENARIO] [--replications N]
(no SCENARIO: scenarios/multiskill_day.yaml). Every strategy plays the same
calls (same seed). With --replications N, seeds seed..seed+N-1 are played and
the figures are means.

Prints the per-route table (service level, ASA, abandon rate, occupancy,
skill-match rate) for each strategy, then one JSON object on the last line:
router_sl, best_baseline_sl, best_baseline, router_asa_s, baseline_asa_s,
router_abandon, baseline_abandon (the best baseline is the plain app_queue
strategy with the highest service level), the service level per route for the
router and that baseline (router_route_sl, baseline_route_sl), plus the best of
the ``+penalty`` variants (members' penalties from skill levels), reported apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

from cti.routing import erlang
from cti.routing.simulator import (
    PENALTY_STRATEGIES,
    STRATEGIES,
    Scenario,
    SimulationResult,
    compare,
    format_report,
    load_scenario,
)

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "multiskill_day.yaml"


def erlang_line(scenario: Scenario) -> str | None:
    """For a single-skill scenario (one call type, one team, flat volume): Erlang C's view."""
    if len(scenario.call_types) != 1 or len(scenario.plan.routes) != 1:
        return None
    ct = scenario.call_types[0]
    if len(set(ct.volume)) != 1 or ct.handle.kind != "exponential":
        return None
    agents = sum(g.count for g in scenario.agents)
    traffic = ct.volume[0] / scenario.interval_s * ct.handle.mean
    within = scenario.plan.routes[0].service_level.within_s
    sl = erlang.service_level(agents, traffic, ct.handle.mean, within)
    asa = erlang.average_speed_of_answer(agents, traffic, ct.handle.mean)
    return (
        f"Erlang C: {agents} agents, {traffic:.2f} Erlangs: service level {sl:.1%} "
        f"within {within:g} s, ASA {asa:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT))
    parser.add_argument("--replications", type=int, default=1)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    strategies = (*STRATEGIES, *PENALTY_STRATEGIES)

    runs: list[dict[str, SimulationResult]] = []
    started = time.perf_counter()
    for rep in range(args.replications):
        sc = dataclasses.replace(scenario, seed=scenario.seed + rep)
        results = compare(sc, strategies)
        runs.append(results)
        if rep == 0:
            print(f"scenario {scenario.name} ({scenario.source}), seed {sc.seed}")
            print(format_report(results))
        else:
            print(
                f"seed {sc.seed}: "
                + ", ".join(f"{s} {r.total.service_level:.1%}" for s, r in results.items())
            )
    elapsed = time.perf_counter() - started
    line = erlang_line(scenario)
    if line:
        print(line)

    def mean(strategy: str, field: str) -> float:
        return statistics.fmean(getattr(r[strategy].total, field) for r in runs)

    def by_route(strategy: str) -> dict[str, float]:
        names = runs[0][strategy].routes
        return {
            name: round(statistics.fmean(r[strategy].routes[name].service_level for r in runs), 4)
            for name in names
        }

    def best(names: tuple[str, ...]) -> str:
        return max(names, key=lambda s: mean(s, "service_level"))

    plain = best(STRATEGIES[1:])
    penalty = best(PENALTY_STRATEGIES)
    calls = runs[0]["router"].total.offered
    print(f"{args.replications} replication(s), {calls} calls each, {elapsed:.1f} s")
    figures = {
        "router_sl": round(mean("router", "service_level"), 4),
        "best_baseline_sl": round(mean(plain, "service_level"), 4),
        "best_baseline": plain,
        "router_asa_s": round(mean("router", "asa_s"), 2),
        "baseline_asa_s": round(mean(plain, "asa_s"), 2),
        "router_abandon": round(mean("router", "abandon_rate"), 4),
        "baseline_abandon": round(mean(plain, "abandon_rate"), 4),
        "router_route_sl": by_route("router"),
        "baseline_route_sl": by_route(plain),
        "router_skill_match": round(mean("router", "skill_match"), 4),
        "baseline_skill_match": round(mean(plain, "skill_match"), 4),
        "best_penalty_baseline": penalty,
        "best_penalty_baseline_sl": round(mean(penalty, "service_level"), 4),
        "replications": args.replications,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
