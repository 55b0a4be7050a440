"""KPI formulas on hand-made calls (docs/kpi.md)."""

from __future__ import annotations

import pytest

from cti.kpi.book import CallBook
from cti.kpi.facts import CallFact, StateChange
from cti.kpi.figures import Counters, agent_time, figures, wrap_ms_by_call
from cti.kpi.options import KpiConfigError, KpiOptions, parse_config

T0 = 1_800_000_000.0


def call(
    n: int,
    *,
    wait: float,
    answered: bool = True,
    abandoned: bool = False,
    queue: str = "billing",
    number: str = "15550100001",
    at: float = T0,
    talk: float = 100.0,
    survey: int | None = None,
    nps: int | None = None,
    disposition: str | None = None,
) -> CallFact:
    return CallFact(
        f"c{n}",
        queue,
        number,
        "1001" if answered else None,
        at,
        answered,
        abandoned,
        True,
        round(wait * 1000),
        round(talk * 1000) if answered else 0,
        0,
        survey,
        nps,
        disposition,
    )


def totals(options: KpiOptions, *facts: CallFact, wraps: dict[str, int] | None = None) -> dict:  # type: ignore[type-arg]
    book = CallBook(options)
    for fact in facts:
        book.put(fact)
    for call_id, wrap in (wraps or {}).items():
        book.add_wrap(call_id, wrap)
    result = Counters()
    for call_id in book.facts:
        result.add(book.contribution(call_id))
    return figures(result)


def test_service_level_counts_answers_within_the_threshold_over_offered_calls() -> None:
    options = KpiOptions()
    f = totals(
        options,
        call(1, wait=3),
        call(2, wait=15),  # at the threshold: within
        call(3, wait=15.001),
        call(4, wait=30, answered=False, abandoned=True),
        call(5, wait=2, answered=False, abandoned=True),  # short abandon: left out
    )
    assert (f["offered"], f["answered"], f["abandoned"], f["short_abandoned"]) == (4, 3, 1, 1)
    assert f["service_level"] == 0.5
    assert f["answer_rate"] == 0.75 and f["abandon_rate"] == 0.25
    assert f["asa_s"] == pytest.approx((3 + 15 + 15.001) / 3, abs=1e-3)
    assert f["max_wait_s"] == 30.0


def test_short_abandons_count_as_offered_when_not_excluded_and_queues_have_own_threshold() -> None:
    options = KpiOptions.model_validate(
        {
            "service_level": {"exclude_short_abandons": False},
            "queues": {"billing": {"threshold_s": 20}},
        }
    )
    f = totals(options, call(1, wait=18), call(2, wait=2, answered=False, abandoned=True))
    assert (f["offered"], f["abandoned"], f["service_level"]) == (2, 1, 0.5)


def test_handle_time_is_talk_plus_hold_plus_wrap_up_per_handled_call() -> None:
    f = totals(
        KpiOptions(), call(1, wait=1, talk=100), call(2, wait=1, talk=50), wraps={"c1": 30_000}
    )
    assert f["aht_s"] == 90.0


def test_first_call_resolution_fails_when_the_number_calls_the_queue_again_within_days() -> None:
    options = KpiOptions()  # repeat mode, 3 days
    f = totals(
        options,
        call(1, wait=1, at=T0),
        call(2, wait=1, at=T0 + 2 * 86400),  # repeats c1
        call(3, wait=1, at=T0 + 2 * 86400, queue="technical"),  # other queue: no repeat
        call(4, wait=1, at=T0, number="15550100002"),
        call(5, wait=1, at=T0 + 4 * 86400, number="15550100002"),  # too late to repeat c4
        call(6, wait=1, number=""),  # unknown number: not judged
    )
    assert f["fcr"] == 0.8  # c1 unresolved; c2, c3, c4, c5 resolved


def test_first_call_resolution_by_disposition_and_by_both() -> None:
    facts = (
        call(1, wait=1, disposition="resolved"),
        call(2, wait=1, at=T0 + 60, disposition="resolved"),
        call(3, wait=1, number="15550100002", disposition="follow_up"),
    )
    by_code = KpiOptions.model_validate({"fcr": {"mode": "disposition"}})
    both = KpiOptions.model_validate({"fcr": {"mode": "both"}})
    assert totals(by_code, *facts)["fcr"] == round(2 / 3, 4)
    assert totals(both, *facts)["fcr"] == round(1 / 3, 4)


def test_a_complaint_repeats_when_the_number_complains_again_within_the_days() -> None:
    f = totals(
        KpiOptions(),
        call(1, wait=1, disposition="complaint"),
        call(2, wait=1, at=T0 + 86400, queue="technical", disposition="complaint"),
        call(3, wait=1, number="15550100002", disposition="complaint"),
    )
    assert (f["complaints"], f["repeat_complaint_rate"]) == (3, round(1 / 3, 4))


def test_csat_is_the_survey_mean_and_good_share_and_nps_promoters_minus_detractors() -> None:
    f = totals(
        KpiOptions(),
        call(1, wait=1, survey=5, nps=10),
        call(2, wait=1, survey=4, nps=9),
        call(3, wait=1, survey=2, nps=3),
        call(4, wait=1, nps=7),
    )
    assert f["csat"] == round(11 / 3, 3) and f["csat_good_share"] == round(2 / 3, 4)
    assert f["nps"] == 25.0  # (2 promoters - 1 detractor) / 4


def test_occupancy_is_talk_and_wrap_up_over_available_time_and_pauses_are_kept_by_reason() -> None:
    changes = [
        StateChange("1001", "paused", "login", None, T0),
        StateChange("1001", "ready", "", None, T0 + 60),
        StateChange("1001", "ringing", "", "c1", T0 + 120),
        StateChange("1001", "talking", "", "c1", T0 + 125),
        StateChange("1001", "wrap_up", "wrap-up", "c1", T0 + 245),
        StateChange("1001", "paused", "lunch", None, T0 + 275),
        StateChange("1001", "logged_out", "", None, T0 + 575),
    ]
    time = agent_time({}, changes, T0, T0 + 3600)["1001"].figures()
    assert time["logins"] == 1 and time["logged_in_s"] == 575.0
    assert time["paused_by_reason_s"] == {"login": 60.0, "lunch": 300.0}
    assert time["occupancy"] == round(150 / 215, 4)
    assert wrap_ms_by_call(changes) == {"c1": 30_000}
    # a period starting mid-way counts from the state in force then
    later = agent_time({"1001": changes[4]}, changes[5:], T0 + 260, T0 + 3600)["1001"]
    assert later.figures()["wrap_up_s"] == 15.0 and later.figures()["logins"] == 0


def test_rates_are_none_without_calls() -> None:
    f = figures(Counters())
    assert f["service_level"] is None and f["aht_s"] is None and f["nps"] is None


def test_the_file_is_validated_with_the_field_named() -> None:
    with pytest.raises(KpiConfigError, match=r"wallboard.yaml: kpi.service_level.threshold_s"):
        parse_config({"kpi": {"service_level": {"threshold_s": -1}}}, "wallboard.yaml")
    with pytest.raises(KpiConfigError, match="unknown time zone"):
        parse_config({"timezone": "Mars/Olympus"}, "w.yaml")
    with pytest.raises(KpiConfigError, match="kpi.sl: Extra inputs"):
        parse_config({"kpi": {"sl": 1}}, "w.yaml")
    with pytest.raises(KpiConfigError, match="unique"):
        rule = {"name": "a", "kind": "waiting_calls", "threshold": 3}
        parse_config({"alarms": [rule, rule]}, "w.yaml")
