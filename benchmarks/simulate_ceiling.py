"""How far routing alone can take a scenario's service level.

Usage: python benchmarks/simulate_ceiling.py [SCENARIO] [--replications N]
(no SCENARIO: scenarios/multiskill_day.yaml)

Every line plays the same calls (same seeds):

* ``router_sl``: the router with the scenario's routes as written;
* ``router_sweep_best_sl``: the best router service level over a grid of the
  settings a site can change in its routes file (``relaxed_tier``,
  ``missed_service_level``, the relaxation step times, route priorities), with
  the setting that gave it (``router_sweep_best``);
* ``best_baseline_sl``: the best plain app_queue-like strategy;
* ``language_pooled_sl``: the router when every agent holds every product skill
  the calls need at level 4 (languages unchanged). This is not a routing policy:
  it shows what the staffing would give if product skills were no constraint,
  so the distance from ``router_sl`` is the cost of the skill split itself;
* ``fully_pooled_sl``: the same with every language too (one pool).

The pooled lines assume the naming of the shipped routes: languages as
``lang.<language>`` and products as skills named like the product.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from cti.routing.model import Route, RoutingPlan, Step
from cti.routing.simulator import STRATEGIES, Scenario, generate_calls, load_scenario, simulate

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "multiskill_day.yaml"

PlanChange = Callable[[RoutingPlan], RoutingPlan]


def _priority(field: str, value: float) -> PlanChange:
    def change(plan: RoutingPlan) -> RoutingPlan:
        if field == "relaxed_tier":
            priority = dataclasses.replace(plan.priority, relaxed_tier=value)
        else:
            priority = dataclasses.replace(plan.priority, missed_service_level=value)
        return dataclasses.replace(plan, priority=priority)

    return change


def _step_times(scale: float) -> PlanChange:
    """Every relaxation step (not the first) at ``scale`` times its time."""

    def route(r: Route) -> Route:
        steps = (r.steps[0], *(Step(s.after_s * scale, s.requires) for s in r.steps[1:]))
        overflow = r.overflow
        if overflow is not None and overflow.after_s <= steps[-1].after_s:
            overflow = dataclasses.replace(overflow, after_s=steps[-1].after_s + 1)
        return dataclasses.replace(r, steps=steps, overflow=overflow)

    def change(plan: RoutingPlan) -> RoutingPlan:
        return dataclasses.replace(plan, routes=tuple(route(r) for r in plan.routes))

    return change


def _last_step_at(after_s: float) -> PlanChange:
    """Each route's last step (the broadest) opens at ``after_s`` at the latest."""

    def route(r: Route) -> Route:
        if len(r.steps) < 2:
            return r
        before = r.steps[-2].after_s
        last = r.steps[-1]
        at = max(min(last.after_s, after_s), before + 1)
        return dataclasses.replace(r, steps=(*r.steps[:-1], Step(at, last.requires)))

    def change(plan: RoutingPlan) -> RoutingPlan:
        return dataclasses.replace(plan, routes=tuple(route(r) for r in plan.routes))

    return change


def _route_priority(name: str, delta: float) -> PlanChange:
    def change(plan: RoutingPlan) -> RoutingPlan:
        routes = tuple(
            dataclasses.replace(r, priority=r.priority + delta) if r.name == name else r
            for r in plan.routes
        )
        return dataclasses.replace(plan, routes=routes)

    return change


def sweep(plan: RoutingPlan) -> dict[str, PlanChange]:
    variants: dict[str, PlanChange] = {}
    for value in (0.0, 40.0, 300.0):
        variants[f"relaxed_tier={value:g}"] = _priority("relaxed_tier", value)
    for value in (0.0, 300.0, 5000.0):
        variants[f"missed_service_level={value:g}"] = _priority("missed_service_level", value)
    for scale in (0.5, 2.0, 4.0):
        variants[f"step_times_x{scale:g}"] = _step_times(scale)
    for after in (10.0, 30.0, 90.0):
        variants[f"last_step_at_{after:g}s"] = _last_step_at(after)
    for route in plan.routes:
        for delta in (-20.0, 20.0):
            variants[f"priority[{route.name}]{delta:+g}"] = _route_priority(route.name, delta)
    return variants


def pooled(scenario: Scenario, *, languages: bool) -> Scenario:
    products = {ct.product for ct in scenario.call_types}
    every_language = {f"lang.{ct.language}" for ct in scenario.call_types}
    groups = []
    for group in scenario.agents:
        skills = dict(group.skills)
        skills.update(dict.fromkeys(products, 4))
        if languages:
            skills.update(dict.fromkeys(every_language, 5))
        groups.append(dataclasses.replace(group, skills=skills))
    return dataclasses.replace(scenario, agents=tuple(groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT))
    parser.add_argument("--replications", type=int, default=1)
    args = parser.parse_args()
    base = load_scenario(args.scenario)
    variants = sweep(base.plan)
    scores: dict[str, list[float]] = {}
    started = time.perf_counter()

    def record(name: str, value: float) -> None:
        scores.setdefault(name, []).append(value)

    for rep in range(args.replications):
        sc = dataclasses.replace(base, seed=base.seed + rep)
        calls = generate_calls(sc)
        record("router", simulate(sc, "router", calls).total.service_level)
        for strategy in STRATEGIES[1:]:
            record(strategy, simulate(sc, strategy, calls).total.service_level)
        for name, change in variants.items():
            changed = dataclasses.replace(sc, plan=change(sc.plan))
            record(name, simulate(changed, "router", calls).total.service_level)
        for name, languages in (("language_pooled", False), ("fully_pooled", True)):
            result = simulate(pooled(sc, languages=languages), "router", calls)
            record(name, result.total.service_level)

    mean = {name: statistics.fmean(values) for name, values in scores.items()}
    for name, value in sorted(mean.items(), key=lambda kv: -kv[1]):
        print(f"{name:<34} {value:.4f}")
    best_baseline = max(STRATEGIES[1:], key=mean.__getitem__)
    best_variant = max(variants, key=mean.__getitem__)
    print(f"{args.replications} replication(s), {time.perf_counter() - started:.1f} s")
    figures = {
        "router_sl": round(mean["router"], 4),
        "router_sweep_best_sl": round(max(mean[best_variant], mean["router"]), 4),
        "router_sweep_best": best_variant if mean[best_variant] > mean["router"] else "as written",
        "router_sweep_variants": len(variants),
        "best_baseline_sl": round(mean[best_baseline], 4),
        "best_baseline": best_baseline,
        "language_pooled_sl": round(mean["language_pooled"], 4),
        "fully_pooled_sl": round(mean["fully_pooled"], 4),
        "replications": args.replications,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
