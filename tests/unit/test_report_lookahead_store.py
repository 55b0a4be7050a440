"""A report reads only the calls after its period that can change a flag, and
its figures equal those of a book holding every stored call (on SQLite and
PostgreSQL): the narrowed lookahead drops nothing the definitions need."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from cti.db.models import CallRecord
from cti.db.repository import create_schema, make_engine
from cti.kpi.book import DAY_S
from cti.kpi.calendar import Calendar
from cti.kpi.options import KpiOptions
from cti.kpi.report import GROUPS, build_book, call_report, lookahead, lookahead_s
from cti.wallboard.store import WallboardStore

DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86400
QUEUES = ("sales", "support")


def stored_calls(seed: int, days: int) -> list[dict[str, Any]]:
    """Calls of a few busy numbers over ``days`` days: repeats at every distance,
    exactly on the window's edge, ties, complaints far after the period."""
    rng = random.Random(seed)
    busy = [f"1555000{i:04d}" for i in range(30)]
    rows = []
    for n in range(1200):
        at = (
            DAY
            + rng.randrange(days) * DAY_S
            + rng.choice((0.0, 0.5, 3600.0, DAY_S - 0.000001, rng.uniform(0, DAY_S)))
        )
        answered = rng.random() < 0.8
        queued = datetime.fromtimestamp(at, UTC)
        rows.append(
            {
                "call_id": f"c{n}",
                "caller_number": rng.choice(busy) if rng.random() < 0.9 else "",
                "caller_name": "",
                "ivr_path": "",
                "queue": rng.choice(QUEUES),
                "agent_id": rng.choice(("a1", "a2")) if answered else None,
                "entered_at": queued,
                "queued_at": queued,
                "answered_at": queued if answered else None,
                "ended_at": queued,
                "wait_s": round(rng.uniform(0, 40), 3),
                "talk_s": round(rng.uniform(1, 300), 3) if answered else 0.0,
                "disposition": "answered" if answered else "abandoned",
                "agent_notes": "",
                "agent_disposition": rng.choice((None, "resolved", "complaint", "other")),
                "survey_score": rng.choice((None, 2, 5)),
            }
        )
    return rows


async def test_a_report_with_the_narrowed_lookahead_equals_one_from_every_stored_call(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    await create_schema(engine)
    rows = stored_calls(4, 12)
    async with engine.begin() as conn:
        await conn.execute(insert(CallRecord), rows)
    store = WallboardStore(engine)
    calendar = Calendar("UTC")
    try:
        for options in (
            KpiOptions.model_validate({"fcr": {"days": 1}, "complaints": {"days": 4}}),
            KpiOptions.model_validate({"fcr": {"days": 2, "mode": "both"}}),
            KpiOptions.model_validate({"complaints": {"codes": []}}),
        ):
            every = await store.facts(DAY, DAY + 40 * DAY_S)
            assert len(every) == len(rows)
            for start in (DAY + 2 * DAY_S, DAY + 5 * DAY_S):
                end = start + DAY_S
                ahead = lookahead(options, end, end + lookahead_s(options))
                later = await store.later_facts(start, ahead)
                read = await store.facts(start, end)
                narrowed = build_book(read + later, {}, options)
                whole = build_book(every, {}, options)
                assert len(later) < len([f for f in every if f.queued_at >= end])
                flagged = 0
                for fact in read:
                    call = fact.call_id
                    assert (call in narrowed._repeated) == (call in whole._repeated), call
                    assert (call in narrowed._repeat_complaint) == (
                        call in whole._repeat_complaint
                    ), call
                    flagged += call in whole._repeated
                assert flagged > 10  # the data has repeats across the period's end
                for group in GROUPS:
                    report = call_report(narrowed, start, end, group, calendar)
                    assert report == call_report(whole, start, end, group, calendar)
                    assert report
    finally:
        await engine.dispose()


async def test_facts_read_back_have_the_epoch_of_the_moment_stored(db_url: str) -> None:
    engine = make_engine(db_url)
    await create_schema(engine)
    rows = stored_calls(8, 2)
    async with engine.begin() as conn:
        await conn.execute(insert(CallRecord), rows)
    try:
        facts = await WallboardStore(engine).facts(DAY, DAY + 3 * DAY_S)
    finally:
        await engine.dispose()
    expected = {r["call_id"]: r["queued_at"].timestamp() for r in rows}
    assert {f.call_id: f.queued_at for f in facts} == expected
    assert any(at % 1 for at in expected.values())  # microseconds are kept
