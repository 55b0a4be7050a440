"""Days and intervals in the site's time zone (days start at local midnight)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class Calendar:
    def __init__(self, timezone: str = "UTC") -> None:
        self.zone = ZoneInfo(timezone)

    def day_start(self, at: float) -> float:
        local = datetime.fromtimestamp(at, self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def next_day(self, day_start: float) -> float:
        local = datetime.fromtimestamp(day_start, self.zone) + timedelta(days=1, hours=2)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def date_of(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.zone).date().isoformat()

    def local_time(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.zone).strftime("%H:%M")


def bucket(at: float, origin: float, size_s: float) -> int:
    """Index of the ``size_s`` bucket holding ``at`` counted from ``origin``."""
    return int((at - origin) // size_s)
