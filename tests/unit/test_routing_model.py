"""Requirement expressions, call attributes, priority, route matching."""

from __future__ import annotations

import pytest

from cti.routing.model import (
    CallAttributes,
    Dnf,
    NoRouteError,
    PriorityPolicy,
    Requirement,
    RequirementError,
    Route,
    RoutingPlan,
    Step,
)

ZH_BILLING = CallAttributes("zh", "billing")


def test_parse_precedence_and_placeholders() -> None:
    req = Requirement.parse("lang.{language} >= 3 & ({product} >= 3 | generalist >= 4)")
    assert req.placeholders == {"language", "product"}
    dnf = req.resolve(ZH_BILLING)
    assert dnf == Dnf(
        (
            (("billing", 3), ("lang.zh", 3)),
            (("generalist", 4), ("lang.zh", 3)),
        )
    )
    assert dnf.matches({"lang.zh": 5, "billing": 3})
    assert dnf.matches({"lang.zh": 3, "generalist": 4})
    assert not dnf.matches({"lang.zh": 2, "billing": 5})
    assert not dnf.matches({"lang.en": 5, "billing": 5})


def test_and_binds_tighter_than_or_and_bare_skill_means_level_one() -> None:
    dnf = Requirement.parse("a | b & c >= 2").resolve(ZH_BILLING)
    assert dnf.matches({"a": 1})
    assert dnf.matches({"b": 1, "c": 2})
    assert not dnf.matches({"b": 1, "c": 1})


def test_weaker_alternatives_absorb_stronger_ones() -> None:
    dnf = Requirement.parse("billing >= 1 | billing >= 3 & lang.zh").resolve(ZH_BILLING)
    assert dnf.conjuncts == ((("billing", 1),),)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("billing >=", "expected a level after '>='", 11),
        ("(a & b", "expected ')'", 7),
        ("a & & b", "expected a skill name, got '&'", 5),
        ("a >= 11", "level 11 out of range 1..10", 6),
        ("a >= 0", "level 0 out of range 1..10", 6),
        ("{customer} >= 2", "unknown attribute {customer}", 1),
        ("a $ b", "unexpected character '$'", 3),
        ("", "expected a skill name or '('", 1),
        ("a b", "unexpected 'b'", 3),
    ],
)
def test_parse_errors_say_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(RequirementError) as info:
        Requirement.parse(text)
    assert info.value.message.startswith(message)
    assert info.value.column == column


def test_call_attributes_are_validated() -> None:
    with pytest.raises(ValueError, match="urgency"):
        CallAttributes("en", "billing", urgency=4)
    with pytest.raises(ValueError, match="language"):
        CallAttributes("e n", "billing")
    assert CallAttributes("en", "billing", callback=True).value("callback") == "true"


def test_priority_weights_tier_urgency_and_waiting() -> None:
    policy = PriorityPolicy(
        per_second_waited=1.0, tier={"vip": 60.0}, urgency={1: 10_000.0, 2: 30.0}, callback=-30
    )
    vip = CallAttributes("en", "billing", tier="vip")
    plain = CallAttributes("en", "billing")
    urgent = CallAttributes("en", "security", urgency=1)
    assert policy.priority(vip, queued_at=100, now=110) == 70
    assert policy.priority(plain, queued_at=50, now=110) == 60
    assert policy.priority(urgent, queued_at=109, now=110) == 10_001
    assert policy.priority(CallAttributes("en", "b", callback=True), 100, 110) == -20


def test_missed_service_level_applies_from_the_threshold_on() -> None:
    policy = PriorityPolicy(missed_service_level=600.0)
    plain = CallAttributes("en", "billing")
    assert policy.priority(plain, queued_at=100, now=119, within_s=20) == 19
    assert policy.priority(plain, queued_at=100, now=120, within_s=20) == 20 - 600
    assert policy.priority(plain, queued_at=100, now=900) == 800  # no threshold given
    assert PriorityPolicy().priority(plain, queued_at=100, now=130, within_s=20) == 30


def test_sort_key_orders_calls_like_priority_at_any_time() -> None:
    policy = PriorityPolicy()
    calls = [
        (CallAttributes("en", "billing", tier="vip"), 100.0),
        (CallAttributes("en", "billing"), 20.0),
        (CallAttributes("en", "billing", urgency=2), 70.0),
        (CallAttributes("en", "billing", urgency=1), 190.0),
    ]
    by_key = sorted(calls, key=lambda c: -policy.sort_key(c[0], c[1], 0.0))
    for now in (200.0, 500.0, 5_000.0):
        by_priority = sorted(calls, key=lambda c: -policy.priority(c[0], c[1], now))
        assert by_key == by_priority


def route(name: str, **match: frozenset[str]) -> Route:
    return Route(name, (Step(0, Requirement.parse("billing")),), match)


def test_first_matching_route_wins() -> None:
    plan = RoutingPlan(
        (
            route("vip", tier=frozenset({"vip"})),
            route("urgent", urgency=frozenset({"1"})),
            route("zh", language=frozenset({"zh"})),
        )
    )
    assert plan.route_for(CallAttributes("zh", "billing", tier="vip")).name == "vip"
    assert plan.route_for(CallAttributes("zh", "billing", urgency=1)).name == "urgent"
    assert plan.route_for(ZH_BILLING).name == "zh"
    with pytest.raises(NoRouteError):
        plan.route_for(CallAttributes("en", "billing"))


def test_plan_rejects_overflow_loops_and_bad_steps() -> None:
    step = Step(0, Requirement.parse("a"))
    from cti.routing.model import Overflow

    a = Route("a", (step,), overflow=Overflow(60, "b"))
    b = Route("b", (step,), overflow=Overflow(60, "a"))
    with pytest.raises(ValueError, match="loops back"):
        RoutingPlan((a, b))
    with pytest.raises(ValueError, match="first step"):
        Route("c", (Step(5, Requirement.parse("a")),))
    with pytest.raises(ValueError, match="increase"):
        Route("d", (step, Step(30, step.requires), Step(30, step.requires)))
