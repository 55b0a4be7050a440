"""Erlang C, the simulator against it, scenario files, baselines."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from cti.routing import erlang
from cti.routing.simulator import (
    STRATEGIES,
    AppQueueBaseline,
    QueueStrategy,
    RingAllOffer,
    Scenario,
    ScenarioError,
    compare,
    generate_calls,
    load_scenario,
    simulate,
)

ROOT = Path(__file__).resolve().parents[2]
SINGLE = ROOT / "scenarios" / "single_skill.yaml"
MULTI = ROOT / "scenarios" / "multiskill_day.yaml"


def erlang_c_by_sums(n: int, a: float) -> float:
    """Textbook form, summed directly: an independent check of the recursion."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_erlang_c_known_values() -> None:
    assert erlang.erlang_c(3, 2.0) == pytest.approx(4 / 9)
    for n, a in ((1, 0.5), (10, 8.0), (25, 21.5), (60, 55.0)):
        assert erlang.erlang_c(n, a) == pytest.approx(erlang_c_by_sums(n, a), rel=1e-9)
    assert erlang.erlang_c(5, 5.0) == 1.0
    sl = erlang.service_level(10, 8.0, 180, 20)
    assert sl == pytest.approx(1 - erlang_c_by_sums(10, 8.0) * math.exp(-2 * 20 / 180))
    assert erlang.average_speed_of_answer(3, 2.0, 60) == pytest.approx(4 / 9 * 60)
    needed = erlang.agents_for_service_level(8.0, 180, 20, 0.8)
    assert erlang.service_level(needed, 8.0, 180, 20) >= 0.8
    assert erlang.service_level(needed - 1, 8.0, 180, 20) < 0.8


def long_single_skill(days: int) -> Scenario:
    """The shipped single-skill day repeated: steady state, about 3,450 calls a day."""
    sc = load_scenario(SINGLE)
    ct = sc.call_types[0]
    end = sc.start_s + days * (sc.end_s - sc.start_s)
    agents = tuple(dataclasses.replace(g, shift_end=end + 3600) for g in sc.agents)
    return dataclasses.replace(
        sc,
        end_s=end,
        agents=agents,
        call_types=(dataclasses.replace(ct, volume=ct.volume * days),),
    )


def test_single_skill_service_level_agrees_with_erlang_c() -> None:
    sc = long_single_skill(days=16)
    ct, route = sc.call_types[0], sc.plan.routes[0]
    agents = sum(g.count for g in sc.agents)
    traffic = ct.volume[0] / sc.interval_s * ct.handle.mean
    expected = erlang.service_level(agents, traffic, ct.handle.mean, route.service_level.within_s)
    result = simulate(sc, "router")
    assert result.total.offered > 50_000
    assert result.total.answered == result.total.offered  # no abandonment in M/M/N
    assert abs(result.total.service_level - expected) < 0.02
    asa = erlang.average_speed_of_answer(agents, traffic, ct.handle.mean)
    assert abs(result.total.asa_s - asa) < 0.25 * asa
    assert result.total.occupancy == pytest.approx(traffic / agents, abs=0.02)


def test_single_skill_every_strategy_gives_the_same_waits() -> None:
    """One queue of identical agents: any work-conserving FIFO policy waits alike."""
    results = compare(load_scenario(SINGLE))
    assert set(results) == set(STRATEGIES)
    levels = {round(r.total.service_level, 12) for r in results.values()}
    asas = {round(r.total.asa_s, 9) for r in results.values()}
    assert len(levels) == 1 and len(asas) == 1


def test_calls_are_reproducible_and_follow_the_profile() -> None:
    sc = load_scenario(MULTI)
    first, again = generate_calls(sc), generate_calls(sc)
    assert first == again
    assert generate_calls(sc, seed=sc.seed + 1) != first
    expected = sum(sum(ct.volume) for ct in sc.call_types)
    assert abs(len(first) - expected) < 4 * math.sqrt(expected)
    peak = sum(1 for c in first if 9.5 * 3600 <= c.arrival < 10 * 3600)
    evening = sum(1 for c in first if 19.5 * 3600 <= c.arrival < 20 * 3600)
    assert peak > 4 * evening
    vip = sum(1 for c in first if c.attrs.tier == "vip") / len(first)
    assert 0.08 < vip < 0.16
    assert {c.attrs.language for c in first} == {"en", "zh"}


def test_multiskill_morning_runs_for_router_and_baselines() -> None:
    sc = load_scenario(MULTI)
    morning = dataclasses.replace(sc, end_s=sc.start_s + 3 * 3600)
    results = compare(morning)
    calls = results["router"].total.offered
    assert calls > 300
    for name, result in results.items():
        total = result.total
        assert total.offered == calls, name
        assert total.answered + total.abandoned + total.unanswered == calls
        assert 0 < total.service_level <= 1 and 0 <= total.abandon_rate < 1
        assert 0 < total.occupancy < 1
        assert set(result.routes) == {"billing", "technical", "security"}
    assert results["router"].relaxed > 0
    assert results["ringall"].relaxed == 0


def test_shipped_day_router_serves_callers_better_than_app_queue() -> None:
    """Same calls, same staff: a higher service level, without more abandons or longer waits."""
    results = compare(load_scenario(MULTI))
    router = results.pop("router").total
    best = max(results.values(), key=lambda r: r.total.service_level).total
    assert router.service_level >= best.service_level + 0.03
    assert router.abandon_rate <= best.abandon_rate
    assert router.asa_s <= best.asa_s


def test_service_level_aware_ordering_answers_more_calls_in_time() -> None:
    sc = load_scenario(MULTI)
    assert sc.plan.priority.missed_service_level > 0
    calls = generate_calls(sc)
    age_only = dataclasses.replace(
        sc.plan, priority=dataclasses.replace(sc.plan.priority, missed_service_level=0.0)
    )
    aware = simulate(sc, "router", calls).total
    plain = simulate(dataclasses.replace(sc, plan=age_only), "router", calls).total
    assert aware.service_level > plain.service_level + 0.01
    assert aware.abandon_rate <= plain.abandon_rate + 0.005


def test_baseline_queues_ring_by_strategy() -> None:
    plan = load_scenario(SINGLE).plan
    from cti.routing.model import CallAttributes

    attrs = CallAttributes("en", "support")
    for strategy, first, second in (
        (QueueStrategy.RRMEMORY, "a1", "a2"),
        (QueueStrategy.FEWESTCALLS, "a1", "a2"),
        (QueueStrategy.LEASTRECENT, "a1", "a2"),
    ):
        q = AppQueueBaseline(plan, strategy)
        for agent in ("a1", "a2"):
            q.set_agent(agent, {"support": 1}, 0.0)
            q.agent_ready(agent, 0.0)
        [offer] = q.call_arrived("c1", attrs, 1.0)
        assert offer.agent_id == first
        q.offer_answered("c1", first, 2.0)
        q.agent_ready(first, 3.0)  # back at once: a2 is now the one to ring
        [offer] = q.call_arrived("c2", attrs, 4.0)
        assert offer.agent_id == second, strategy
    q = AppQueueBaseline(plan, QueueStrategy.RINGALL)
    for agent in ("a1", "a2", "a3"):
        q.set_agent(agent, {"support": 1}, 0.0)
        q.agent_ready(agent, 0.0)
    [offer] = q.call_arrived("c1", attrs, 1.0)
    assert isinstance(offer, RingAllOffer) and offer.ringing == 3


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('start: "00:00"', 'start: "7am"', 'day.start: expected a time "HH:MM"'),
        ("{exponential: 180}", "{gamma: 180}", "unknown distribution 'gamma'"),
        ("count: 10", "count: -1", "agents[0].count: expected a whole number"),
        ("profile: flat", "profile: peak", "no profile named 'peak'"),
        ('requires: "support"', 'requires: "support >="', "routes: "),
        ("patience_s: never", "patience_s: {uniform: [5, 1]}", "high 1 is below low 5"),
        ("call_types:", "call_typos:", "unknown key 'call_typos'"),
    ],
)
def test_scenario_errors_name_file_and_field(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    text = SINGLE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)
