"""Reports: the KPIs of any past period from stored CDRs and the agent state log.

Pure: the adapter reads the facts and log rows (``cti.wallboard.store``) and
hands them here. The same ``CallBook`` and ``contribution`` as the live
figures are used, so a report of today equals the live "today" field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cti.kpi.book import DAY_S, CallBook
from cti.kpi.calendar import Calendar, bucket
from cti.kpi.facts import CallFact, StateChange
from cti.kpi.figures import Counters, agent_time, figures, wrap_ms_by_call
from cti.kpi.options import KpiOptions

Group = Literal["total", "interval", "day", "queue", "agent", "disposition"]
GROUPS: tuple[Group, ...] = ("total", "interval", "day", "queue", "agent", "disposition")
INTERVALS_MIN = (15, 30, 60)
#: upper edges (s) of the wait-time buckets of the distribution
WAIT_EDGES_S = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)


def lookahead_s(options: KpiOptions) -> float:
    """How far after a period calls are needed (for repeat calls and complaints)."""
    return max(options.fcr.days, options.complaints.days) * DAY_S


@dataclass(frozen=True, slots=True)
class Lookahead:
    """The calls after a period [start, end) that can change the repeat flags of
    its calls, and no others (``CallBook``: a call repeats when the number's next
    call to the same queue comes within ``fcr.days``; a complaint repeats when the
    number's next complaint, any queue, comes within ``complaints.days``):

    * in [end, ``repeat_until``): any call of a number that called in the period;
    * in [``repeat_until``, ``complaint_until``): the calls with one of
      ``complaint_codes`` of a number that complained in the period.

    Each bound is a second past the window (never short of it by a rounding)
    and at most the horizon asked for.
    """

    end: float
    repeat_until: float
    complaint_until: float
    complaint_codes: tuple[str, ...]


def lookahead(options: KpiOptions, end: float, horizon: float) -> Lookahead:
    """What a report of a period ending at ``end`` reads after it, up to ``horizon``."""
    repeat_until = min(horizon, end + options.fcr.days * DAY_S + 1)
    complaint_until = min(horizon, end + options.complaints.days * DAY_S + 1)
    codes = tuple(options.complaints.codes)
    if not codes:
        complaint_until = repeat_until
    return Lookahead(end, repeat_until, max(repeat_until, complaint_until), codes)


def build_book(
    pool: Iterable[CallFact],
    changes: Iterable[StateChange] | Mapping[str, int],
    options: KpiOptions,
) -> CallBook:
    """The calls (the period's and those after it, for the repeat flags) with their
    wrap-up: from the state log rows, or already summed per call."""
    book = CallBook(options)
    book.put_all(sorted(pool, key=lambda f: f.queued_at))
    wraps = changes if isinstance(changes, Mapping) else wrap_ms_by_call(changes)
    for call_id, wrap in wraps.items():
        book.add_wrap(call_id, wrap)
    return book


def call_report(
    book: CallBook,
    start: float,
    end: float,
    group: Group,
    calendar: Calendar,
    *,
    interval_s: int = 900,
    queue: str | None = None,
    agent: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of KPIs per ``group`` for calls that reached a queue in [start, end)."""
    key_of = _key(group, calendar, interval_s)
    options = book.options
    members: dict[Any, list[str]] = {}
    for call_id, fact in book.facts.items():
        if not start <= fact.queued_at < end:
            continue
        if queue is not None and fact.queue != queue:
            continue
        if agent is not None and fact.agent_id != agent:
            continue
        if group == "agent" and fact.agent_id is None:
            continue
        key = key_of(fact)
        ids = members.get(key)
        if ids is None:
            members[key] = [call_id]
        else:
            ids.append(call_id)
    grouped: dict[Any, Counters] = {key: book.tally(ids) for key, ids in members.items()}
    rows = []
    for key in sorted(grouped, key=lambda k: (k is None, k)):
        if group == "queue":
            target: float | None = options.target(key)
        elif queue is not None:
            target = options.target(queue)
        else:
            target = options.service_level.target
        rows.append(_label(group, key, calendar) | figures(grouped[key], target))
    return rows


def _key(group: Group, calendar: Calendar, interval_s: int) -> Callable[[CallFact], Any]:
    if group == "interval":
        day, next_day = 0.0, 0.0  # the local day of the last call seen

        def interval(f: CallFact) -> float:
            nonlocal day, next_day
            if not day <= f.queued_at < next_day:
                day = calendar.day_start(f.queued_at)
                next_day = calendar.next_day(day)
            return day + bucket(f.queued_at, day, interval_s) * interval_s

        return interval
    if group == "day":
        return lambda f: calendar.date_of(f.queued_at)
    if group == "queue":
        return lambda f: f.queue
    if group == "agent":
        return lambda f: f.agent_id
    if group == "disposition":
        return lambda f: f.disposition or ""
    return lambda f: "total"


def _label(group: Group, key: Any, calendar: Calendar) -> dict[str, Any]:
    if group == "interval":
        return {
            "start": key,
            "date": calendar.date_of(key),
            "label": calendar.local_time(key),
        }
    return {group: key}


def session_report(
    initial: Mapping[str, StateChange],
    changes: Iterable[StateChange],
    start: float,
    until: float,
    agent: str | None = None,
) -> list[dict[str, Any]]:
    """Per agent: logins, time logged in, ready, paused by reason, talking, wrap-up."""
    times = agent_time(initial, changes, start, until)
    return [
        {"agent": agent_id} | times[agent_id].figures()
        for agent_id in sorted(times)
        if agent is None or agent_id == agent
    ]


def wait_distribution(
    book: CallBook, start: float, end: float, queue: str | None = None
) -> list[dict[str, Any]]:
    """Answered and abandoned calls by wait time, with the share answered so far
    (the service level each threshold would give)."""
    edges_ms = [e * 1000 for e in WAIT_EDGES_S]
    rows: list[dict[str, Any]] = [
        {"up_to_s": e, "answered": 0, "abandoned": 0} for e in [*WAIT_EDGES_S, None]
    ]
    offered = 0
    for call_id, fact in book.facts.items():
        if not start <= fact.queued_at < end or (queue is not None and fact.queue != queue):
            continue
        c = book.contribution(call_id)
        offered += c.offered
        if not (c.answered or c.abandoned):
            continue
        index = next((i for i, e in enumerate(edges_ms) if fact.wait_ms <= e), len(edges_ms))
        rows[index]["answered" if c.answered else "abandoned"] += 1
    answered = 0
    for row in rows:
        answered += row["answered"]
        row["answered_share"] = round(answered / offered, 4) if offered else None
    return rows
