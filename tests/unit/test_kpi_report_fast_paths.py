"""The fast paths of the reports give the same numbers as the plain definitions:
the call book built in one pass, the repeat flags found in one sweep, counters
added field by field, and facts unpacked from plain rows."""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import UTC, datetime
from types import SimpleNamespace

from cti.kpi.book import DAY_S, CallBook
from cti.kpi.calendar import Calendar
from cti.kpi.facts import CallFact
from cti.kpi.figures import Counters, is_complaint
from cti.kpi.options import KpiOptions
from cti.kpi.report import GROUPS, call_report
from cti.wallboard.store import FACT_COLUMNS, fact_of_row, facts_of_rows

DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86400
QUEUES = ("sales", "support", "billing")


def seeded_facts(seed: int, count: int = 1500) -> list[CallFact]:
    """Calls of a few busy numbers (repeats, ties, complaints) and many single ones."""
    rng = random.Random(seed)
    busy = [f"1555000{i:04d}" for i in range(25)]
    facts = []
    for n in range(count):
        number = rng.choice(busy) if rng.random() < 0.6 else f"1666{rng.randrange(10**6):06d}"
        at = DAY + rng.choice((0, 1, 2)) * DAY_S + rng.randrange(0, 86400, 600)  # many ties
        answered = rng.random() < 0.8
        facts.append(
            CallFact(
                call_id=f"c{n}",
                queue=rng.choice(QUEUES),
                caller_number=number if rng.random() < 0.95 else "",
                agent_id=rng.choice(("a1", "a2", "a3")) if answered else None,
                queued_at=at,
                answered=answered,
                abandoned=not answered,
                final=True,
                wait_ms=rng.randrange(0, 90_000),
                talk_ms=rng.randrange(1, 600_000) if answered else 0,
                survey_score=rng.choice((None, 2, 4, 5)),
                nps_score=rng.choice((None, 3, 8, 10)),
                disposition=rng.choice((None, "resolved", "complaint", "follow_up")),
            )
        )
    return facts


def plain_flags(facts: list[CallFact], options: KpiOptions) -> tuple[set[str], set[str]]:
    """The repeat flags by their definition: every later call of the number looked at."""
    repeated, repeat_complaint = set(), set()
    for a in facts:
        for b in facts:
            gap = b.queued_at - a.queued_at
            if not a.caller_number or b.caller_number != a.caller_number or gap <= 0:
                continue
            if b.queue == a.queue and gap <= options.fcr.days * DAY_S:
                repeated.add(a.call_id)
            if (
                is_complaint(a, options)
                and is_complaint(b, options)
                and gap <= options.complaints.days * DAY_S
            ):
                repeat_complaint.add(a.call_id)
    return repeated, repeat_complaint


def test_the_book_built_in_one_pass_equals_the_book_built_call_by_call() -> None:
    options = KpiOptions.model_validate({"fcr": {"days": 1}, "complaints": {"days": 2}})
    facts = seeded_facts(7)
    one_by_one, in_one_pass = CallBook(options), CallBook(options)
    for fact in facts:
        one_by_one.put(fact)
    in_one_pass.put_all(facts)
    expected = plain_flags(facts, options)
    assert (one_by_one._repeated, one_by_one._repeat_complaint) == expected
    assert (in_one_pass._repeated, in_one_pass._repeat_complaint) == expected
    assert len(expected[0]) > 100 and len(expected[1]) > 20  # the seed has repeats of both
    calendar = Calendar("UTC")
    for group in GROUPS:
        rows = call_report(in_one_pass, DAY, DAY + 3 * DAY_S, group, calendar)
        assert rows == call_report(one_by_one, DAY, DAY + 3 * DAY_S, group, calendar)
        assert rows


def test_a_replaced_call_in_one_pass_is_counted_as_put_would_count_it() -> None:
    options = KpiOptions()
    facts = seeded_facts(11, 400)
    replaced = [
        CallFact(**{**{f.name: getattr(x, f.name) for f in fields(x)}, "queue": "support"})
        for x in facts[:50]
    ]
    one_by_one, in_one_pass = CallBook(options), CallBook(options)
    for fact in facts + replaced:
        one_by_one.put(fact)
    in_one_pass.put_all(facts + replaced)
    assert in_one_pass.facts == one_by_one.facts
    assert in_one_pass._repeated == one_by_one._repeated
    assert in_one_pass._repeat_complaint == one_by_one._repeat_complaint


def test_putting_a_call_reports_only_the_calls_whose_flags_changed() -> None:
    book = CallBook(KpiOptions())
    first = seeded_facts(3, 1)[0]
    later = CallFact(**{**{f.name: getattr(first, f.name) for f in fields(first)}})
    later = CallFact(
        **{
            **{f.name: getattr(later, f.name) for f in fields(later)},
            "call_id": "again",
            "queued_at": first.queued_at + 60,
        }
    )
    assert book.put(first) == {first.call_id}
    assert book.put(later) == {"again", first.call_id}  # the first is now a repeat
    third = CallFact(
        **{**{f.name: getattr(later, f.name) for f in fields(later)}, "call_id": "third"}
    )
    assert book.put(third) == {"third"}  # a tie with "again": nothing else changes


def test_counters_add_every_field_and_keep_the_longest_wait() -> None:
    rng = random.Random(5)
    parts = [Counters(**{f.name: rng.randrange(100) for f in fields(Counters)}) for _ in range(9)]
    sum_ = Counters()
    for part in parts:
        sum_.add(part)
    for f in fields(Counters):
        values = [getattr(p, f.name) for p in parts]
        expected = max(values) if f.name == "max_wait_ms" else sum(values)
        assert getattr(sum_, f.name) == expected, f.name
    for part in parts:
        sum_.subtract(part)
    assert sum_ == Counters(max_wait_ms=max(p.max_wait_ms for p in parts))


def test_facts_unpacked_from_plain_rows_equal_facts_made_row_by_row() -> None:
    rng = random.Random(9)
    names = [c.key for c in FACT_COLUMNS]
    rows = []
    for n in range(300):
        queued = datetime.fromtimestamp(DAY + rng.uniform(0, 86400), UTC)
        answered = rng.random() < 0.7
        values = {
            "call_id": f"r{n}",
            "queue": rng.choice((*QUEUES, None)),
            "caller_number": rng.choice(("", "15550001")),
            "agent_id": rng.choice(("a1", None)),
            "queued_at": rng.choice((queued, queued.replace(tzinfo=None), None)),
            "answered_at": queued if answered else None,
            "disposition": rng.choice(("answered", "abandoned", "lost")),
            "wait_s": round(rng.uniform(0, 60), 3),
            "talk_s": round(rng.uniform(0, 600), 3),
            "survey_score": rng.choice((None, 1, 5)),
            "nps_score": rng.choice((None, 0, 10)),
            "agent_disposition": rng.choice((None, "resolved")),
        }
        rows.append(tuple(values[k] for k in names))
    made = [fact_of_row(SimpleNamespace(**dict(zip(names, row, strict=True)))) for row in rows]
    expected = [f for f in made if f is not None]
    assert facts_of_rows(rows) == expected
    assert 100 < len(expected) < 300


def test_a_call_exactly_the_window_later_is_a_repeat_and_one_a_millisecond_later_is_not() -> None:
    options = KpiOptions.model_validate({"fcr": {"days": 1}, "complaints": {"days": 2}})
    first = seeded_facts(3, 1)[0]

    def at(call_id: str, queued_at: float) -> CallFact:
        values = {f.name: getattr(first, f.name) for f in fields(first)}
        return CallFact(
            **{**values, "call_id": call_id, "queued_at": queued_at, "disposition": "complaint"}
        )

    for gap, repeats in ((DAY_S, True), (DAY_S + 0.001, False)):
        book = CallBook(options)
        book.put_all([at("a", DAY), at("b", DAY + gap)])
        assert ("a" in book._repeated) is repeats
    for gap, repeats in ((2 * DAY_S, True), (2 * DAY_S + 0.001, False)):
        book = CallBook(options)
        book.put_all([at("a", DAY), at("b", DAY + gap)])
        assert ("a" in book._repeat_complaint) is repeats


def test_the_boards_occupancy_equals_the_agents_time_figures_at_any_moment() -> None:
    from cti.kpi.live import LiveKpis
    from tests.support.kpi_day import QUEUES as DAY_QUEUES
    from tests.support.kpi_day import simulate_day

    live = LiveKpis(KpiOptions(), Calendar("UTC"), DAY, DAY_QUEUES)
    simulate_day(
        DAY,
        on_effects=lambda t, batch: live.observe(batch, t),
        on_disposition=lambda t, c, code: live.disposition(c, code),
    )
    for now in (DAY + 9 * 3600, DAY + 12 * 3600 + 0.4, DAY + 23 * 3600):
        expected = {a: t.figures()["occupancy"] for a, t in live.agent_times(now).items()}
        assert live.occupancies(now) == expected
        assert sum(v is not None for v in expected.values()) >= 3


def test_a_groups_tally_equals_the_sum_of_its_calls_contributions_under_every_option() -> None:
    facts = seeded_facts(13, 900)
    facts += [
        CallFact(**{**{f.name: getattr(x, f.name) for f in fields(x)}, "final": False})
        for x in seeded_facts(14, 60)
        if x.answered
    ]
    facts = [
        CallFact(**{**{f.name: getattr(x, f.name) for f in fields(x)}, "call_id": f"t{n}"})
        for n, x in enumerate(facts)
    ]
    facts += [  # answered exactly at the threshold and a millisecond after it
        CallFact(f"edge{n}", "sales", "", "a1", DAY, True, False, True, 15_000 + n) for n in (0, 1)
    ]
    lost = [x for x in facts if not x.answered][:40]
    facts = [
        CallFact(**{**{f.name: getattr(x, f.name) for f in fields(x)}, "abandoned": False})
        if x in lost
        else x
        for x in facts
    ]
    for config in (
        {},
        {"fcr": {"mode": "disposition"}, "csat_good": 5},
        {"fcr": {"mode": "both", "days": 1}, "complaints": {"days": 1}},
        {
            "service_level": {"exclude_short_abandons": True, "short_abandon_s": 20},
            "queues": {"support": {"threshold_s": 40}},
        },
    ):
        options = KpiOptions.model_validate(config)
        book = CallBook(options)
        book.put_all(facts)
        for n, call_id in enumerate(list(book.facts)[::7]):
            book.add_wrap(call_id, n * 1000 + 1)
        ids = [x.call_id for x in facts]
        expected = Counters()
        for call_id in ids:
            expected.add(book.contribution(call_id))
        assert book.tally(ids) == expected, config
        assert book.tally(ids[:1]) == book.contribution(ids[0])
        assert book.tally([]) == Counters()
    assert expected.fcr_resolved and expected.repeat_complaints and expected.lost
    assert expected.short_abandoned and expected.wrap_ms and expected.handled < expected.answered
