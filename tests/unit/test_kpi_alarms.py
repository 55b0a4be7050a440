"""Alarms: raised past the threshold, cleared past the clear level (hysteresis)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cti.kpi.alarms import AlarmEngine
from cti.kpi.options import AlarmRule


def run(engine: AlarmEngine, values: dict[str, float | None], now: float) -> list[tuple[str, bool]]:
    changes = engine.evaluate(lambda rule, queue: values.get(queue), values, now)
    return [(a.queue, a.cleared_at is None) for a in changes]


def test_a_service_level_alarm_is_raised_below_target_and_cleared_above_the_clear_level() -> None:
    rule = AlarmRule(name="sl", kind="service_level", threshold=0.8, clear=0.85)
    engine = AlarmEngine([rule])
    assert run(engine, {"billing": 0.9}, 0) == []
    assert run(engine, {"billing": 0.7}, 1) == [("billing", True)]
    assert run(engine, {"billing": 0.7}, 2) == []  # raised once
    assert run(engine, {"billing": 0.82}, 3) == []  # back above target, not above clear
    assert ("sl", "billing") in engine.active
    assert run(engine, {"billing": 0.86}, 4) == [("billing", False)]
    assert engine.active == {}


def test_an_alarm_must_hold_for_its_time_before_it_is_raised_or_cleared() -> None:
    rule = AlarmRule(name="wait", kind="longest_wait", threshold=60, for_s=10, clear_for_s=5)
    engine = AlarmEngine([rule])
    assert run(engine, {"general": 61}, 0) == []
    assert run(engine, {"general": 30}, 5) == []  # the condition broke: start again
    assert run(engine, {"general": 70}, 6) == []
    assert run(engine, {"general": 80}, 16) == [("general", True)]
    assert run(engine, {"general": 10}, 17) == []
    assert run(engine, {"general": 10}, 22) == [("general", False)]


def test_star_rules_watch_every_queue_and_unjudged_values_change_nothing() -> None:
    rule = AlarmRule(name="ready", kind="agents_ready", threshold=1)
    engine = AlarmEngine([rule])
    assert run(engine, {"a": 0, "b": 2}, 0) == [("a", True)]
    assert run(engine, {"a": None, "b": None}, 1) == []
    assert run(engine, {"a": 1, "b": 0}, 2) == [("a", False), ("b", True)]


def test_rules_refuse_a_clear_level_on_the_wrong_side_and_shares_above_one() -> None:
    with pytest.raises(ValidationError, match="clear must be at or above"):
        AlarmRule(name="x", kind="service_level", threshold=0.8, clear=0.7)
    with pytest.raises(ValidationError, match="share between 0 and 1"):
        AlarmRule(name="x", kind="abandon_rate", threshold=5)
    with pytest.raises(ValidationError, match="clear must be at or below"):
        AlarmRule(name="x", kind="waiting_calls", threshold=5, clear=6)
