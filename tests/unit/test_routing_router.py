"""The router: who gets which call, relaxation, overflow, RONA, fairness, index = full scan."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cti.routing.config import parse_routes
from cti.routing.model import CallAttributes, RoutingPlan
from cti.routing.router import (
    AgentStatus,
    CancelOffer,
    Decision,
    FullScanRouter,
    Offer,
    Overflowed,
    PauseAgent,
    Relaxed,
    Router,
)


def plan(**overrides: Any) -> RoutingPlan:
    data: dict[str, Any] = {
        "version": 1,
        "priority": {"tier": {"vip": 60}, "urgency": {1: 10000, 2: 30, 3: 0}},
        "routes": [
            {
                "name": "billing",
                "match": {"product": "billing"},
                "ring_timeout_s": 15,
                "steps": [
                    {"requires": "lang.{language} >= 3 & billing >= 3"},
                    {"after_s": 30, "requires": "lang.{language} >= 2 & billing >= 1"},
                    {"after_s": 90, "requires": "lang.{language} >= 2"},
                ],
                "overflow": {"after_s": 120, "to": "anyone"},
            },
            {"name": "anyone", "steps": [{"requires": "generalist"}]},
        ],
    }
    data.update(overrides)
    return parse_routes(data, "test")


EN = CallAttributes("en", "billing")


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)]


def ready(router: Router, agents: dict[str, dict[str, int]], at: float = 0.0) -> None:
    for agent_id, skills in agents.items():
        router.set_agent(agent_id, skills, at)
        assert router.agent_ready(agent_id, at) == []


def test_call_goes_to_a_qualified_agent_not_a_weak_one() -> None:
    r = Router(plan())
    ready(r, {"weak": {"lang.en": 5, "billing": 1}, "good": {"lang.en": 4, "billing": 3}})
    [offer] = r.call_arrived("c1", EN, 10.0)
    assert isinstance(offer, Offer)
    assert (offer.agent_id, offer.tier, offer.route, offer.deadline) == ("good", 0, "billing", 25.0)
    assert r.agent_status("good") is AgentStatus.OFFERED


def test_specialist_before_multi_skilled_then_longest_idle() -> None:
    r = Router(plan())
    ready(r, {"bilingual": {"lang.en": 5, "lang.zh": 5, "billing": 4}}, at=0.0)
    ready(r, {"en-late": {"lang.en": 5, "billing": 4}}, at=5.0)
    ready(r, {"en-early": {"lang.en": 5, "billing": 4}}, at=3.0)
    assert offers(r.call_arrived("c1", EN, 10.0)) == [("c1", "en-early")]
    assert offers(r.call_arrived("c2", EN, 11.0)) == [("c2", "en-late")]
    assert offers(r.call_arrived("c3", EN, 12.0)) == [("c3", "bilingual")]


@pytest.mark.parametrize(("fairness", "chosen"), [("least_occupancy", "b"), ("longest_idle", "a")])
def test_fairness_among_equally_good_agents(fairness: str, chosen: str) -> None:
    r = Router(plan(fairness=fairness))
    r.set_agent("a", {"lang.en": 5, "billing": 4}, 0.0)
    r.set_agent("b", {"lang.en": 5, "billing": 4}, 0.0)
    r.agent_ready("a", 0.0)
    assert offers(r.call_arrived("c1", EN, 0.0)) == [("c1", "a")]
    r.offer_answered("c1", "a", 0.0)
    r.agent_ready("b", 0.0)
    assert offers(r.call_arrived("c2", EN, 80.0)) == [("c2", "b")]
    r.offer_answered("c2", "b", 80.0)
    r.agent_ready("a", 90.0)  # busy 90 s of 90
    r.agent_ready("b", 90.0)  # busy 10 s of 90, ready just after a
    assert r.occupancy("a", 90.0) == 1.0
    assert r.occupancy("b", 90.0) == pytest.approx(10 / 90)
    assert offers(r.call_arrived("c3", EN, 100.0)) == [("c3", chosen)]


def test_freed_agent_takes_highest_priority_call() -> None:
    r = Router(plan())
    r.set_agent("a", {"lang.en": 5, "billing": 4}, 0.0)
    r.call_arrived("old", EN, 0.0)
    r.call_arrived("vip", CallAttributes("en", "billing", tier="vip"), 20.0)  # 60 s bonus
    r.call_arrived("urgent", CallAttributes("en", "billing", urgency=1), 29.0)
    assert [w.call_id for w in r.waiting(29.0)] == ["urgent", "vip", "old"]
    assert offers(r.agent_ready("a", 29.0)) == [("urgent", "a")]
    r.offer_answered("urgent", "a", 30.0)
    assert offers(r.agent_ready("a", 31.0)) == [("vip", "a")]


def test_relaxation_steps_widen_the_pool_over_time() -> None:
    r = Router(plan())
    ready(r, {"weak": {"lang.en": 2, "billing": 1}, "talker": {"lang.en": 5}})
    assert r.call_arrived("c1", EN, 100.0) == []
    assert r.next_deadline() == 130.0
    assert r.on_timer(129.9) == []
    decisions = r.on_timer(130.0)
    assert decisions[0] == Relaxed("c1", "billing", 1, 130.0)
    assert offers(decisions) == [("c1", "weak")]
    assert [d.tier for d in decisions if isinstance(d, Offer)] == [1]


def test_language_step_then_overflow_to_another_route() -> None:
    r = Router(plan())
    ready(r, {"generalist": {"generalist": 3}})
    r.call_arrived("c1", CallAttributes("zh", "billing"), 0.0)
    assert r.on_timer(30.0) == [Relaxed("c1", "billing", 1, 30.0)]
    assert r.on_timer(90.0) == [Relaxed("c1", "billing", 2, 90.0)]
    decisions = r.on_timer(120.0)
    assert decisions[0] == Overflowed("c1", "billing", "anyone", 120.0)
    assert offers(decisions) == [("c1", "generalist")]
    assert r.next_deadline() == 135.0  # the ring timeout


def test_rona_pauses_agent_and_puts_call_back_at_the_head() -> None:
    r = Router(plan(rona_pause_reason="no answer"))
    ready(r, {"a": {"lang.en": 5, "billing": 4}})
    r.set_agent("b", {"lang.en": 5, "billing": 4}, 0.0)
    [(call, agent)] = offers(r.call_arrived("first", EN, 0.0))
    assert (call, agent) == ("first", "a")
    r.call_arrived("second", EN, 5.0)
    r.call_arrived("vip", CallAttributes("en", "billing", tier="vip"), 6.0)
    assert r.next_deadline() == 15.0
    decisions = r.on_timer(15.0)
    assert decisions == [CancelOffer("first", "a", "no-answer"), PauseAgent("a", "no answer")]
    assert r.agent_status("a") is AgentStatus.NOT_READY
    assert [w.call_id for w in r.waiting(15.0)][0] == "first"  # ahead of the VIP
    assert offers(r.agent_ready("b", 16.0)) == [("first", "b")]
    assert r.offer_answered("first", "a", 16.5) == []  # stale answer is ignored


def test_caller_leaving_while_ringing_frees_the_agent_for_the_next_call() -> None:
    r = Router(plan())
    ready(r, {"a": {"lang.en": 5, "billing": 4}})
    r.call_arrived("c1", EN, 0.0)
    r.call_arrived("c2", EN, 1.0)
    decisions = r.call_left("c1", 3.0)
    assert decisions[0] == CancelOffer("c1", "a", "caller-left")
    assert offers(decisions) == [("c2", "a")]
    assert r.call_left("c2", 4.0)[0] == CancelOffer("c2", "a", "caller-left")
    assert r.agent_status("a") is AgentStatus.READY
    assert r.call_left("unknown", 5.0) == []


def test_agent_pausing_while_ringing_requeues_the_call() -> None:
    r = Router(plan())
    ready(r, {"a": {"lang.en": 5, "billing": 4}})
    r.call_arrived("c1", EN, 0.0)
    assert r.agent_not_ready("a", 2.0) == [CancelOffer("c1", "a", "agent-unavailable")]
    assert r.waiting_count == 1
    assert offers(r.agent_ready("a", 3.0)) == [("c1", "a")]


@pytest.mark.parametrize(("relaxed_tier", "taken"), [(0, "old-en"), (60, "new-zh")])
def test_relaxed_tier_lets_an_agent_prefer_calls_it_fits(relaxed_tier: int, taken: str) -> None:
    r = Router(plan(priority={"relaxed_tier": relaxed_tier}))
    r.set_agent("zh", {"lang.zh": 5, "lang.en": 2, "billing": 4}, 0.0)
    r.call_arrived("old-en", EN, 0.0)
    assert r.on_timer(30.0) == [Relaxed("old-en", "billing", 1, 30.0)]  # now fits "zh", tier 1
    r.call_arrived("new-zh", CallAttributes("zh", "billing"), 40.0)  # fits "zh" at tier 0
    # waited 41 s vs 1 s: the older call wins unless the fit is worth more than 40 s
    assert offers(r.agent_ready("zh", 41.0)) == [(taken, "zh")]


def test_calls_past_their_service_level_yield_to_calls_that_can_still_make_it() -> None:
    r = Router(plan(priority={"missed_service_level": 600}))
    r.set_agent("a", {"lang.en": 5, "billing": 4}, 0.0)
    r.call_arrived("old", EN, 0.0)
    r.call_arrived("vip", CallAttributes("en", "billing", tier="vip"), 1.0)
    assert r.next_deadline() == 20.0  # the threshold of "old": 80 % within 20 s
    assert r.on_timer(20.0) == []  # only its place in line changes
    assert r.on_timer(21.0) == []  # the VIP's threshold
    r.call_arrived("new", EN, 25.0)
    waiting = {w.call_id: w.priority for w in r.waiting(30.0)}
    assert waiting == {"vip": 60 + 29 - 600, "new": 5, "old": 30 - 600}
    assert [w.call_id for w in r.waiting(30.0)] == ["new", "vip", "old"]
    assert offers(r.agent_ready("a", 30.0)) == [("new", "a")]
    r.offer_answered("new", "a", 31.0)
    # both missed: the usual order among them (the VIP counts as 60 s older)
    assert offers(r.agent_ready("a", 40.0)) == [("vip", "a")]


def test_urgent_call_past_its_threshold_stays_at_the_front() -> None:
    r = Router(plan(priority={"missed_service_level": 600}))
    r.set_agent("a", {"lang.en": 5, "billing": 4}, 0.0)
    r.call_arrived("urgent", CallAttributes("en", "billing", urgency=1), 0.0)
    r.on_timer(20.0)
    r.call_arrived("vip", CallAttributes("en", "billing", tier="vip", urgency=2), 21.0)
    assert offers(r.agent_ready("a", 22.0)) == [("urgent", "a")]


def test_without_missed_service_level_age_alone_orders_calls() -> None:
    r = Router(plan())
    r.set_agent("a", {"lang.en": 5, "billing": 4}, 0.0)
    r.call_arrived("old", EN, 0.0)
    assert r.next_deadline() == 30.0  # no service-level timer, only the relaxation step
    r.call_arrived("new", EN, 25.0)
    assert offers(r.agent_ready("a", 30.0)) == [("old", "a")]


def test_threshold_timer_of_an_answered_call_is_dropped() -> None:
    r = Router(plan(priority={"missed_service_level": 600}))
    ready(r, {"a": {"lang.en": 5, "billing": 4}})
    assert offers(r.call_arrived("c1", EN, 0.0)) == [("c1", "a")]
    r.offer_answered("c1", "a", 2.0)
    assert r.next_deadline() is None


def test_a_reused_call_id_does_not_inherit_the_old_calls_timers() -> None:
    r = Router(plan(priority={"missed_service_level": 600}))
    ready(r, {"weak": {"lang.en": 2, "billing": 1}})
    r.call_arrived("c1", EN, 0.0)
    r.call_left("c1", 5.0)
    r.call_arrived("c1", EN, 10.0)  # e.g. the caller was sent back to the queue
    assert r.on_timer(20.0) == []  # the first call's threshold
    assert r.waiting(25.0)[0].priority == 15
    assert r.on_timer(30.0) == []  # the first call's relaxation step
    assert r.on_timer(30.0 + 1e-9) == []
    decisions = r.on_timer(40.0)
    assert decisions[0] == Relaxed("c1", "billing", 1, 40.0)
    assert offers(decisions) == [("c1", "weak")]


def test_changing_skills_of_a_ready_agent_reindexes_it() -> None:
    r = Router(plan())
    ready(r, {"a": {"lang.en": 5}})
    assert r.call_arrived("c1", EN, 0.0) == []
    assert offers(r.set_agent("a", {"lang.en": 5, "billing": 3}, 1.0)) == [("c1", "a")]


def test_duplicate_call_is_refused() -> None:
    r = Router(plan())
    r.call_arrived("c1", EN, 0.0)
    with pytest.raises(ValueError, match="already"):
        r.call_arrived("c1", EN, 1.0)


def random_stream(router: Router, seed: int, steps: int) -> list[list[Decision]]:
    """A random but reproducible mix of every event the CTI can send."""
    rng = random.Random(seed)
    languages, products = ("en", "zh"), ("billing", "technical")
    agents = [f"a{i}" for i in range(40)]
    log: list[list[Decision]] = []
    now = 0.0
    for agent in agents:
        skills = {f"lang.{rng.choice(languages)}": rng.randint(1, 5)}
        for product in rng.sample(products + ("generalist",), rng.randint(1, 2)):
            skills[product] = rng.randint(1, 5)
        router.set_agent(agent, skills, now)
    calls: list[str] = []
    offered: dict[str, str] = {}
    for n in range(steps):
        now += rng.expovariate(1.0)
        x = rng.random()
        if (deadline := router.next_deadline()) is not None and deadline <= now:
            out = router.on_timer(now)
        elif x < 0.3:
            attrs = CallAttributes(
                rng.choice(languages),
                rng.choice(products),
                tier=rng.choice(("standard", "vip")),
                urgency=rng.choice((1, 2, 3, 3, 3)),
            )
            calls.append(f"c{n}")
            out = router.call_arrived(f"c{n}", attrs, now)
        elif x < 0.55:
            out = router.agent_ready(rng.choice(agents), now)
        elif x < 0.65:
            out = router.agent_not_ready(rng.choice(agents), now)
        elif x < 0.85 and offered:
            call = rng.choice(sorted(offered))
            out = router.offer_answered(call, offered[call], now)
        elif x < 0.9 and offered:
            call = rng.choice(sorted(offered))
            out = router.offer_failed(call, offered[call], now)
        elif calls:
            out = router.call_left(rng.choice(calls), now)
        else:
            out = []
        for d in out:
            if isinstance(d, Offer):
                offered[d.call_id] = d.agent_id
            elif isinstance(d, CancelOffer):
                offered.pop(d.call_id, None)
        log.append(out)
    return log


@pytest.mark.parametrize("seed", range(8))
def test_indexed_router_decides_exactly_like_a_full_scan(seed: int) -> None:
    p = plan(
        priority={
            "tier": {"vip": 60},
            "relaxed_tier": 40 * (seed % 2),
            "missed_service_level": 300 * (seed % 4 >= 2),
        }
    )
    indexed = random_stream(Router(p), seed, 1500)
    naive = random_stream(FullScanRouter(p), seed, 1500)
    assert sum(len(out) for out in indexed) > 200  # the stream really routes calls
    assert indexed == naive


@pytest.mark.parametrize("missed", [0, 300])
def test_invariant_no_ready_agent_fits_a_waiting_call(missed: int) -> None:
    p = plan(priority={"missed_service_level": missed})
    r = Router(p)
    random_stream(r, 42, 2000)
    ready_agents = [a for a in r._agents.values() if a.status is AgentStatus.READY]
    waiting = [c for c in r._calls.values() if c.agent_id is None]
    assert ready_agents and waiting
    for call in waiting:
        for agent in ready_agents:
            assert not any(t.matches(agent.skills) for t in call.tiers)
