"""Forecast of one day's calls per queue and interval, from the same weekday in past weeks.

For the day D, the history is the calls of D - 7 days, D - 14 days, ...,
D - 7N days (``weeks`` = N). Per queue and interval (15, 30 or 60 minutes of
local time, by the time the call joined the queue):

* offered calls: the (weighted) mean over the weeks of the calls offered in
  that interval; ``weighting="equal"`` gives every week the same weight,
  ``"recent"`` gives week k (k = 1 the most recent) the weight N + 1 - k;
* handle time: talk + wrap-up of the answered calls of that interval over
  all the weeks (weighted alike), divided by their (weighted) number; an
  interval with no answered call takes its queue's handle time over the
  whole day, a queue with none ``default_handle_s``;
* patience (for Erlang A), per queue over the whole day: the abandoned calls
  divided by the total time all offered calls waited (answered calls until
  the answer, abandoned ones until they hung up): the maximum-likelihood
  estimate of an exponential patience's rate with censored observations.
  No abandon at all: no patience (Erlang C only).

Weeks before the first stored call (``history_start``) are left out rather
than counted as days without calls. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

INTERVALS_MIN = (15, 30, 60)
Weighting = Literal["equal", "recent"]


@dataclass(frozen=True, slots=True)
class PastCall:
    """One offered call from the stored CDRs (it joined a queue)."""

    queue: str
    queued_at: float  # epoch seconds
    answered: bool
    wait_s: float  # until answered, or until the caller hung up
    handle_s: float  # talk + wrap-up (0 when not answered)


@dataclass(frozen=True, slots=True)
class IntervalForecast:
    start: time  # local time of day
    calls: float  # expected offered calls in the interval
    handle_s: float  # expected mean handle time


@dataclass(frozen=True, slots=True)
class QueueForecast:
    queue: str
    intervals: tuple[IntervalForecast, ...]  # the whole day, in order
    patience_s: float | None  # mean caller patience; None without abandons
    handle_s: float  # the queue's handle time over the whole day


@dataclass(frozen=True, slots=True)
class Forecast:
    day: date
    interval_min: int
    weeks: tuple[date, ...]  # the past days used, most recent first
    weighting: Weighting
    queues: dict[str, QueueForecast] = field(default_factory=dict)


def history_days(day: date, weeks: int) -> tuple[date, ...]:
    """The same weekday in each of the ``weeks`` weeks before ``day``, most recent first."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    return tuple(day - timedelta(days=7 * k) for k in range(1, weeks + 1))


def day_bounds(day: date, tz: tzinfo) -> tuple[float, float]:
    """Epoch seconds of the local midnight starting ``day`` and of the next one."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.timestamp(), end.timestamp()


def forecast(
    calls: Iterable[PastCall],
    day: date,
    *,
    weeks: int,
    interval_min: int,
    tz: tzinfo,
    history_start: float | None,
    weighting: Weighting = "equal",
    default_handle_s: float = 180.0,
) -> Forecast:
    """Forecast ``day`` from ``calls`` (any calls; those outside the history days are ignored)."""
    if interval_min not in INTERVALS_MIN:
        raise ValueError(f"interval must be one of {INTERVALS_MIN} minutes")
    if weighting not in ("equal", "recent"):
        raise ValueError("weighting must be 'equal' or 'recent'")
    slots = 24 * 60 // interval_min
    past = history_days(day, weeks)
    used = tuple(
        d for d in past if history_start is not None and day_bounds(d, tz)[1] > history_start
    )
    result = Forecast(day, interval_min, used, weighting)
    if not used:
        return result
    weight_of = {d: (1.0 if weighting == "equal" else float(weeks - past.index(d))) for d in used}
    total_weight = sum(weight_of.values())

    offered: dict[str, list[float]] = defaultdict(lambda: [0.0] * slots)
    answered: dict[str, list[float]] = defaultdict(lambda: [0.0] * slots)
    handle: dict[str, list[float]] = defaultdict(lambda: [0.0] * slots)
    abandons: dict[str, int] = defaultdict(int)
    waited: dict[str, float] = defaultdict(float)
    for call in calls:
        local = datetime.fromtimestamp(call.queued_at, tz)
        when = local.date()
        if when not in weight_of:
            continue
        slot = (local.hour * 60 + local.minute) // interval_min
        w = weight_of[when]
        offered[call.queue][slot] += w
        waited[call.queue] += max(0.0, call.wait_s)
        if call.answered:
            answered[call.queue][slot] += w
            handle[call.queue][slot] += w * max(0.0, call.handle_s)
        else:
            abandons[call.queue] += 1
    for queue in sorted(offered):
        day_answered = sum(answered[queue])
        day_handle = sum(handle[queue]) / day_answered if day_answered else default_handle_s
        intervals = tuple(
            IntervalForecast(
                start=time(slot * interval_min // 60, slot * interval_min % 60),
                calls=offered[queue][slot] / total_weight,
                handle_s=(
                    handle[queue][slot] / answered[queue][slot]
                    if answered[queue][slot]
                    else day_handle
                ),
            )
            for slot in range(slots)
        )
        # at least a second: abandons with no recorded wait would mean infinite impatience
        patience = max(1.0, waited[queue] / abandons[queue]) if abandons[queue] else None
        result.queues[queue] = QueueForecast(queue, intervals, patience, day_handle)
    return result
