"""Staffing core: Erlang A against a brute-force queue model, the forecast, the plan."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cti.domain.model import AgentSnapshot, AgentState
from cti.routing import erlang
from cti.routing.simulator import load_scenario
from cti.staffing.erlang_a import (
    agents_for_service_level_a,
    erlang_a,
    regularized_gamma_p,
)
from cti.staffing.forecast import PastCall, forecast, history_days
from cti.staffing.plan import ServiceTarget, staff_now, staffing_plan
from cti.staffing.simcheck import check


def brute_force(
    n: int, lam: float, mu: float, theta: float, t: float
) -> tuple[float, float, float]:
    """P(wait), P(abandon), service level of M/M/n+M by a truncated birth-death
    chain and, per caller position, uniformization of the tagged caller's race
    between reaching an agent and its own patience (no closed forms)."""
    k_max = n + 400
    weights = [1.0]
    for k in range(1, k_max + 1):
        death = min(k, n) * mu + max(k - n, 0) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    pi = [w / total for w in weights]
    p_wait = sum(pi[n:])
    p_abandon = theta * sum(max(k - n, 0) * p for k, p in enumerate(pi)) / lam
    m_max = k_max - n
    big = n * mu + (m_max + 1) * theta
    steps = int(big * t + 12 * math.sqrt(big * t) + 30)
    served = [0.0] * (m_max + 1)  # P(served within the steps so far | m ahead)
    weight = math.exp(-big * t)
    result = [weight * s for s in served]
    for step in range(1, steps + 1):
        new = []
        for j in range(m_max + 1):
            down = (n * mu + j * theta) / big
            stay = 1 - down - theta / big
            below = 1.0 if j == 0 else served[j - 1]
            new.append(down * below + stay * served[j])
        served = new
        weight *= big * t / step
        for j in range(m_max + 1):
            result[j] += weight * served[j]
    sl = sum(pi[:n]) + sum(pi[n + m] * result[m] for m in range(m_max + 1))
    return p_wait, p_abandon, sl


def test_regularized_gamma_matches_closed_forms() -> None:
    assert regularized_gamma_p(1, 2.0) == pytest.approx(1 - math.exp(-2))
    for s, z in ((5, 3.0), (5, 30.0), (12, 11.0), (40, 45.0)):
        expected = 1 - math.exp(-z) * sum(z**k / math.factorial(k) for k in range(s))
        assert regularized_gamma_p(s, z) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert regularized_gamma_p(0.5, 0.0) == 0.0


@pytest.mark.parametrize(
    ("n", "calls_per_h", "handle_s", "patience_s", "within_s"),
    [(5, 80, 180, 120, 20), (10, 200, 180, 60, 15), (3, 90, 120, 300, 30), (8, 120, 240, 90, 0)],
)
def test_erlang_a_agrees_with_a_brute_force_queue(
    n: int, calls_per_h: float, handle_s: float, patience_s: float, within_s: float
) -> None:
    lam = calls_per_h / 3600
    got = erlang_a(n, lam, handle_s, patience_s, within_s)
    p_wait, p_abandon, sl = brute_force(n, lam, 1 / handle_s, 1 / patience_s, within_s)
    assert got.p_wait == pytest.approx(p_wait, abs=1e-6)
    assert got.p_abandon == pytest.approx(p_abandon, abs=1e-6)
    assert got.service_level == pytest.approx(sl, abs=1e-5)


def test_erlang_a_tends_to_erlang_c_when_callers_never_give_up() -> None:
    got = erlang_a(10, 150 / 3600, 180, 1e7, 20)
    assert got.p_wait == pytest.approx(erlang.erlang_c(10, 7.5), abs=1e-4)
    assert got.service_level == pytest.approx(erlang.service_level(10, 7.5, 180, 20), abs=1e-4)


def test_erlang_a_stays_finite_when_overloaded_and_at_large_sizes() -> None:
    overloaded = erlang_a(5, 400 / 3600, 180, 120, 20)  # 20 Erlangs on 5 agents
    assert 0.5 < overloaded.p_abandon < 1
    assert 0 <= overloaded.service_level < 0.3
    big = erlang_a(400, 7200 / 3600, 180, 600, 20)  # 360 Erlangs
    assert 0 < big.service_level <= 1 and math.isfinite(big.mean_wait_s)


def test_erlang_a_needs_no_more_agents_than_erlang_c_and_meets_the_target() -> None:
    rate, handle, within = 150 / 3600, 180.0, 20.0
    c = erlang.agents_for_service_level(rate * handle, handle, within, 0.8)
    a = agents_for_service_level_a(rate, handle, 120, within, 0.8)
    assert a <= c
    assert erlang_a(a, rate, handle, 120, within).service_level >= 0.8
    assert erlang_a(a - 1, rate, handle, 120, within).service_level < 0.8
    assert agents_for_service_level_a(0, handle, 120, within, 0.8) == 0


UTC_DAY = date(2026, 12, 11)  # a Friday


def calls_on(day: date, hour: int, count: int, handle_s: float, tz=UTC, **kw) -> list[PastCall]:
    start = datetime.combine(day, time(hour), tzinfo=tz).timestamp()
    return [
        PastCall(
            queue=kw.get("queue", "billing"),
            queued_at=start + 60 * i,
            answered=kw.get("answered", True),
            wait_s=kw.get("wait_s", 10.0),
            handle_s=handle_s,
        )
        for i in range(count)
    ]


def test_history_is_the_same_weekday_in_past_weeks() -> None:
    assert history_days(UTC_DAY, 3) == (date(2026, 12, 4), date(2026, 11, 27), date(2026, 11, 20))
    assert all(d.weekday() == UTC_DAY.weekday() for d in history_days(UTC_DAY, 8))


def test_forecast_is_the_mean_of_the_weeks_per_interval() -> None:
    days = history_days(UTC_DAY, 4)
    calls = []
    for k, d in enumerate(days):
        calls += calls_on(d, 9, 10 + 2 * k, handle_s=100 + 20 * k)
    calls += calls_on(UTC_DAY - timedelta(days=1), 9, 50, 999)  # another weekday: ignored
    fc = forecast(
        calls, UTC_DAY, weeks=4, interval_min=60, tz=UTC, history_start=0.0, weighting="equal"
    )
    nine = fc.queues["billing"].intervals[9]
    assert nine.start == time(9)
    assert nine.calls == pytest.approx((10 + 12 + 14 + 16) / 4)
    expected_aht = (10 * 100 + 12 * 120 + 14 * 140 + 16 * 160) / 52
    assert nine.handle_s == pytest.approx(expected_aht)
    assert fc.queues["billing"].intervals[8].calls == 0
    assert fc.queues["billing"].intervals[8].handle_s == pytest.approx(expected_aht)
    assert fc.queues["billing"].patience_s is None  # nobody abandoned

    recent = forecast(
        calls, UTC_DAY, weeks=4, interval_min=60, tz=UTC, history_start=0.0, weighting="recent"
    )
    weighted = (4 * 10 + 3 * 12 + 2 * 14 + 1 * 16) / 10
    assert recent.queues["billing"].intervals[9].calls == pytest.approx(weighted)


def test_forecast_leaves_out_weeks_before_the_first_stored_call() -> None:
    days = history_days(UTC_DAY, 4)
    calls = calls_on(days[0], 10, 20, 180) + calls_on(days[1], 10, 30, 180)
    first = min(c.queued_at for c in calls)
    fc = forecast(calls, UTC_DAY, weeks=4, interval_min=30, tz=UTC, history_start=first)
    assert fc.weeks == days[:2]
    assert fc.queues["billing"].intervals[20].calls == pytest.approx(25)  # 10:00-10:30
    assert forecast([], UTC_DAY, weeks=4, interval_min=30, tz=UTC, history_start=None).queues == {}


def test_forecast_intervals_are_local_time() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    day = history_days(UTC_DAY, 1)[0]
    calls = calls_on(day, 9, 6, 120, tz=shanghai)  # 09:00-09:05 in Shanghai is 01:00 UTC
    fc = forecast(calls, UTC_DAY, weeks=1, interval_min=15, tz=shanghai, history_start=0.0)
    intervals = fc.queues["billing"].intervals
    assert len(intervals) == 96
    assert intervals[36].start == time(9) and intervals[36].calls == 6


def test_patience_is_abandons_over_total_waiting_time() -> None:
    day = history_days(UTC_DAY, 1)[0]
    calls = calls_on(day, 9, 8, 200, wait_s=30.0) + calls_on(
        day, 10, 2, 0, answered=False, wait_s=50.0
    )
    fc = forecast(calls, UTC_DAY, weeks=1, interval_min=60, tz=UTC, history_start=0.0)
    assert fc.queues["billing"].patience_s == pytest.approx((8 * 30 + 2 * 50) / 2)
    assert fc.queues["billing"].intervals[10].handle_s == pytest.approx(200)  # day's AHT


def test_forecast_refuses_odd_intervals() -> None:
    with pytest.raises(ValueError):
        forecast([], UTC_DAY, weeks=1, interval_min=20, tz=UTC, history_start=0.0)
    with pytest.raises(ValueError):
        history_days(UTC_DAY, 0)


def test_plan_gives_each_queue_its_target_and_zero_for_empty_intervals() -> None:
    days = history_days(UTC_DAY, 2)
    calls = []
    for d in days:
        calls += calls_on(d, 9, 40, 180) + calls_on(d, 9, 20, 240, queue="account")
        calls += calls_on(d, 9, 2, 0, queue="account", answered=False, wait_s=60)
    fc = forecast(calls, UTC_DAY, weeks=2, interval_min=30, tz=UTC, history_start=0.0)
    plan = staffing_plan(fc, {"account": ServiceTarget(0.9, 15)}, ServiceTarget(0.8, 20))
    by_name = {q.queue: q for q in plan.queues}
    billing, account = by_name["billing"], by_name["account"]
    assert account.target == ServiceTarget(0.9, 15) and billing.target == ServiceTarget(0.8, 20)
    b9 = billing.intervals[18]  # 09:00-09:30: 30 calls of 180 s = 3 Erlangs
    assert (b9.start, b9.traffic) == ("09:00", pytest.approx(3.0))
    assert b9.agents_c == erlang.agents_for_service_level(3.0, 180, 20, 0.8)
    assert b9.service_level_c >= 0.8
    assert b9.agents_a is None  # billing had no abandons
    a9 = account.intervals[18]
    assert a9.agents_a is not None and a9.agents_a <= a9.agents_c
    assert a9.service_level_a is not None and a9.service_level_a >= 0.9
    assert billing.intervals[0].agents_c == 0 and account.intervals[0].agents_a == 0
    assert billing.peak_c == max(i.agents_c for i in billing.intervals)


def test_staff_now_counts_logged_in_agents_per_queue() -> None:
    def agent(name: str, state: AgentState, queues: tuple[str, ...]) -> AgentSnapshot:
        return AgentSnapshot(name, state, "", None, queues, 0.0)

    staff = staff_now(
        [
            agent("1", AgentState.READY, ("billing", "general")),
            agent("2", AgentState.TALKING, ("billing",)),
            agent("3", AgentState.LOGGED_OUT, ("billing",)),
            agent("4", AgentState.PAUSED, ("general",)),
        ]
    )
    assert staff["billing"].logged_in == 2 and staff["billing"].ready == 1
    assert staff["billing"].talking == 1
    assert staff["general"].logged_in == 2 and staff["general"].ready == 1


SINGLE = Path(__file__).resolve().parents[2] / "scenarios" / "single_skill.yaml"


def test_erlang_c_staffing_reaches_its_target_in_the_simulator() -> None:
    """Forecast from four simulated weeks, plan with Erlang C, simulate the planned day."""
    result = check(load_scenario(SINGLE), weeks=4, replications=8)
    assert result.erlang == "C" and min(result.agents) >= 9
    assert result.predicted_sl >= result.target
    assert abs(result.simulated_sl - result.predicted_sl) <= 0.03
    assert result.simulated_sl >= result.target - 0.03


def test_erlang_a_staffing_predicts_service_level_and_abandons_in_the_simulator() -> None:
    sc = load_scenario(SINGLE)
    with_patience = check(sc, weeks=4, replications=8, patience_s=120)
    assert sum(with_patience.agents) < sum(check(sc, weeks=4, replications=1).agents)
    assert abs(with_patience.simulated_sl - with_patience.predicted_sl) <= 0.03
    assert with_patience.simulated_sl >= with_patience.target - 0.03
    assert with_patience.predicted_abandon > 0.01
    assert abs(with_patience.simulated_abandon - with_patience.predicted_abandon) <= 0.01
