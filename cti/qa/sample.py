"""The spot-check sample: N % of each agent's calls of an ISO week (pure).

Reproducible: the sample is a function of the week and its calls alone. Each
call gets a rank, the SHA-256 of the week and the call id, and an agent's
calls with the lowest ranks are taken, so two QA users (or two processes)
asking for the same week see the same calls, and a call that comes in later
in the week joins the sample only by ranking above one already in it. Every
agent with calls in the week has at least one call in the sample.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DEFAULT_PERCENT = 5.0
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class BadWeek(ValueError):
    """Not an ISO week (``2026-W49``)."""


@dataclass(frozen=True, slots=True)
class Week:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC."""
        day = date.fromisocalendar(self.year, self.number, 1)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (not in the week)."""
        return self.start + timedelta(days=7)


def parse_week(text: str) -> Week:
    match = _WEEK.fullmatch(text)
    if match is None:
        raise BadWeek(f"not an ISO week like 2026-W49: {text[:20]!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise BadWeek(f"no week {number} in {year}") from exc
    return Week(year, number)


def week_of(moment: datetime) -> Week:
    year, number, _ = moment.astimezone(UTC).isocalendar()
    return Week(year, number)


def rank(week: Week, call_id: str) -> str:
    return hashlib.sha256(f"{week.label}|{call_id}".encode()).hexdigest()


def sample_size(calls: int, percent: float) -> int:
    """``percent`` of ``calls`` rounded up; at least one when there are calls."""
    if calls <= 0:
        return 0
    return min(calls, max(1, math.ceil(calls * percent / 100.0 - 1e-9)))


def pick(week: Week, calls: Iterable[tuple[str, str]], percent: float) -> dict[str, list[str]]:
    """Each agent's sampled call ids (lowest rank first) from ``(call_id, agent_id)`` pairs."""
    by_agent: dict[str, list[str]] = defaultdict(list)
    for call_id, agent_id in calls:
        by_agent[agent_id].append(call_id)
    return {
        agent: sorted(ids, key=lambda c: rank(week, c))[: sample_size(len(ids), percent)]
        for agent, ids in sorted(by_agent.items())
    }
