"""The live KPIs of a day equal the report computed afterwards from that day's
CDRs and agent state log, field by field."""

from __future__ import annotations

from cti.kpi.calendar import Calendar
from cti.kpi.facts import StateChange, fact_of_cdr
from cti.kpi.live import LiveKpis
from cti.kpi.options import KpiOptions
from cti.kpi.report import build_book, call_report, session_report
from tests.support.kpi_day import QUEUES, simulate_day

DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86400  # a UTC midnight


def play_day(options: KpiOptions) -> tuple[LiveKpis, list[StateChange], object, float]:
    live = LiveKpis(options, Calendar("UTC"), DAY, QUEUES)
    log: list[StateChange] = []

    def effects(t: float, batch: list) -> None:  # type: ignore[type-arg]
        log.extend(live.observe(batch, t).state_changes)

    day = simulate_day(
        DAY, on_effects=effects, on_disposition=lambda t, c, code: live.disposition(c, code)
    )
    return live, log, day, DAY + 23 * 3600


def test_live_today_equals_the_report_of_the_day_per_queue_agent_and_interval() -> None:
    options = KpiOptions()
    live, log, day, now = play_day(options)
    facts = [fact_of_cdr(cdr, day.dispositions.get(cdr.call_id)) for cdr in day.cdrs]  # type: ignore[attr-defined]
    book = build_book([f for f in facts if f is not None], log, options)
    calendar = Calendar("UTC")

    by_queue = {r["queue"]: r for r in call_report(book, DAY, DAY + 86400, "queue", calendar)}
    assert set(by_queue) == set(QUEUES)
    for queue in QUEUES:
        assert by_queue[queue] | {"queue": None} == live.queue_today(queue) | {"queue": None}
    (total,) = call_report(book, DAY, DAY + 86400, "total", calendar)
    assert {k: v for k, v in total.items() if k != "total"} == live.today()
    assert total["offered"] > 200 and total["answered"] > 100 and total["abandoned"] > 5
    assert total["complaints"] > 0 and total["surveys"] > 0 and total["fcr"] is not None
    assert total["nps_answers"] > 20 and total["nps"] is not None
    assert all(by_queue[q]["nps"] is not None for q in QUEUES)

    intervals = call_report(book, DAY, DAY + 86400, "interval", calendar)
    assert [{k: v for k, v in r.items() if k != "date"} for r in intervals] == live.intervals()
    assert len(intervals) >= 30

    agents = {r["agent"]: r for r in call_report(book, DAY, DAY + 86400, "agent", calendar)}
    live_times = live.agent_times(now)
    sessions = {r["agent"]: r for r in session_report({}, log, DAY, now)}
    for agent_id, row in agents.items():
        today = live.agent_today(agent_id, now)
        assert {k: v for k, v in row.items() if k != "agent"} == today["calls"] | {
            "service_level_target": row["service_level_target"]
        }
        assert sessions[agent_id] == {"agent": agent_id} | live_times[agent_id].figures()
        assert sessions[agent_id]["occupancy"] is not None
        assert sessions[agent_id]["paused_by_reason_s"]["lunch"] > 600
        assert row["aht_s"] > row["talk_s"] / row["answered"]  # wrap-up counted


def test_excluding_short_abandons_changes_the_service_level_both_ways_alike() -> None:
    strict = KpiOptions.model_validate({"service_level": {"exclude_short_abandons": False}})
    live_a, _, _, _ = play_day(KpiOptions())
    live_b, log, day, _ = play_day(strict)
    short = live_b.today()["short_abandoned"]
    assert short > 0
    assert live_a.today()["offered"] == live_b.today()["offered"] - short
    facts = [fact_of_cdr(c, day.dispositions.get(c.call_id)) for c in day.cdrs]  # type: ignore[attr-defined]
    book = build_book([f for f in facts if f is not None], log, strict)
    (total,) = call_report(book, DAY, DAY + 86400, "total", Calendar("UTC"))
    assert {k: v for k, v in total.items() if k != "total"} == live_b.today()
    assert live_a.today()["service_level"] != live_b.today()["service_level"]
