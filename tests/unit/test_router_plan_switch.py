"""The router takes a new routes file for new calls; calls already waiting keep theirs."""

from __future__ import annotations

from cti.routing.config import parse_routes
from cti.routing.model import CallAttributes, RoutingPlan
from cti.routing.router import Offer, Overflowed, Router

NORMAL: dict[str, object] = {
    "version": 1,
    "routes": [
        {
            "name": "billing",
            "match": {"product": "billing"},
            "steps": [{"requires": "billing >= 3"}],
            "overflow": {"after_s": 60, "to": "anyone"},
        },
        {"name": "anyone", "steps": [{"requires": "generalist"}]},
    ],
}
CRISIS: dict[str, object] = {
    "version": 1,
    "routes": [{"name": "everyone", "steps": [{"requires": "lang.en >= 1"}]}],
}


def plan(data: dict[str, object]) -> RoutingPlan:
    return parse_routes(data, "test")


def test_new_calls_are_routed_by_the_new_plan() -> None:
    router = Router(plan(NORMAL))
    router.set_agent("a", {"lang.en": 2}, 0.0)
    router.agent_ready("a", 0.0)
    assert router.call_arrived("before", CallAttributes("en", "billing"), 1.0) == []
    router.use_plan(plan(CRISIS))
    decisions = router.call_arrived("after", CallAttributes("en", "billing"), 2.0)
    assert [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)] == [("after", "a")]


def test_a_call_waiting_from_before_still_overflows_to_its_old_route() -> None:
    router = Router(plan(NORMAL))
    router.set_agent("g", {"generalist": 1}, 0.0)
    router.agent_ready("g", 0.0)
    router.call_arrived("c1", CallAttributes("en", "billing"), 0.0)
    router.use_plan(plan(CRISIS))  # has no route "anyone"
    decisions = router.on_timer(60.0)
    assert decisions[0] == Overflowed("c1", "billing", "anyone", 60.0)
    assert [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)] == [("c1", "g")]
