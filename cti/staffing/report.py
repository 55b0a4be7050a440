"""The staffing view the CLI and the page show: forecast + plan + agents now, as JSON or text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.config import Settings
from cti.staffing.forecast import INTERVALS_MIN, Weighting, forecast, history_days
from cti.staffing.history import past_calls
from cti.staffing.plan import QueueStaff, ServiceTarget, StaffingPlan, staffing_plan

MAX_WEEKS = 52


class StaffingRequestError(ValueError):
    """A bad date, interval, week count or time zone."""


def timezone_of(settings: Settings) -> tzinfo:
    if not settings.staffing_timezone:
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return ZoneInfo(settings.staffing_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise StaffingRequestError(
            f"unknown staffing_timezone {settings.staffing_timezone!r}"
        ) from exc


def targets_of(settings: Settings) -> tuple[dict[str, ServiceTarget], ServiceTarget]:
    default = ServiceTarget(settings.staffing_target, settings.staffing_within_s)
    per_queue = {
        q: ServiceTarget(share, within)
        for q, (share, within) in settings.staffing_queue_targets.items()
    }
    return per_queue, default


def check_request(weeks: int, interval_min: int, weighting: str) -> None:
    if not 1 <= weeks <= MAX_WEEKS:
        raise StaffingRequestError(f"weeks must be between 1 and {MAX_WEEKS}")
    if interval_min not in INTERVALS_MIN:
        raise StaffingRequestError(f"interval must be one of {list(INTERVALS_MIN)} minutes")
    if weighting not in ("equal", "recent"):
        raise StaffingRequestError("weighting must be 'equal' or 'recent'")


async def build_plan(
    engine: AsyncEngine,
    settings: Settings,
    day: date,
    *,
    weeks: int = 4,
    interval_min: int = 30,
    weighting: Weighting = "equal",
) -> StaffingPlan:
    check_request(weeks, interval_min, weighting)
    tz = timezone_of(settings)
    calls, first = await past_calls(engine, history_days(day, weeks), tz)
    fc = forecast(
        calls,
        day,
        weeks=weeks,
        interval_min=interval_min,
        tz=tz,
        history_start=first,
        weighting=weighting,
    )
    per_queue, default = targets_of(settings)
    return staffing_plan(fc, per_queue, default)


def plan_json(plan: StaffingPlan, staff: Mapping[str, QueueStaff]) -> dict[str, Any]:
    fc = plan.forecast
    return {
        "date": fc.day.isoformat(),
        "interval_min": fc.interval_min,
        "weighting": fc.weighting,
        "history_days": [d.isoformat() for d in fc.weeks],
        "queues": [
            {
                "queue": q.queue,
                "target": q.target.target,
                "within_s": q.target.within_s,
                "patience_s": None if q.patience_s is None else round(q.patience_s, 1),
                "peak_agents_c": q.peak_c,
                "staff_now": _staff(staff.get(q.queue)),
                "intervals": [
                    {
                        "start": i.start,
                        "calls": round(i.calls, 2),
                        "handle_s": round(i.handle_s, 1),
                        "erlangs": round(i.traffic, 3),
                        "agents_c": i.agents_c,
                        "sl_c": round(i.service_level_c, 4),
                        "agents_a": i.agents_a,
                        "sl_a": None if i.service_level_a is None else round(i.service_level_a, 4),
                        "abandon_a": None if i.abandon_a is None else round(i.abandon_a, 4),
                    }
                    for i in q.intervals
                ],
            }
            for q in plan.queues
        ],
        "staff_now": {name: _staff(s) for name, s in staff.items()},
    }


def _staff(staff: QueueStaff | None) -> dict[str, int]:
    staff = staff or QueueStaff()
    return {"logged_in": staff.logged_in, "ready": staff.ready, "talking": staff.talking}


def format_plan(plan: StaffingPlan, staff: Mapping[str, QueueStaff] | None = None) -> str:
    """A text table per queue: only the intervals with calls forecast."""
    fc = plan.forecast
    lines = [
        f"staffing for {fc.day.isoformat()} ({fc.day.strftime('%A')}), "
        f"{fc.interval_min}-minute intervals, {fc.weighting} mean of "
        + (", ".join(d.isoformat() for d in fc.weeks) or "no stored history")
    ]
    if not plan.queues:
        lines.append("no offered calls on those days: nothing to forecast")
    for q in plan.queues:
        patience = (
            "none measured (Erlang C only)" if q.patience_s is None else f"{q.patience_s:.0f} s"
        )
        now = (staff or {}).get(q.queue)
        lines.append("")
        lines.append(
            f"queue {q.queue}: target {q.target.target:.0%} within {q.target.within_s:g} s, "
            f"patience {patience}"
            + (f", logged in now {now.logged_in} (ready {now.ready})" if now else "")
        )
        lines.append(
            f"{'interval':>8} {'calls':>7} {'AHT s':>6} {'Erl':>6} {'C agents':>8} "
            f"{'C SL':>6} {'A agents':>8} {'A SL':>6} {'A aband':>7}"
        )
        for i in q.intervals:
            if i.calls <= 0:
                continue
            a_agents = "-" if i.agents_a is None else str(i.agents_a)
            a_sl = "-" if i.service_level_a is None else f"{i.service_level_a:.1%}"
            a_ab = "-" if i.abandon_a is None else f"{i.abandon_a:.1%}"
            lines.append(
                f"{i.start:>8} {i.calls:7.1f} {i.handle_s:6.0f} {i.traffic:6.2f} "
                f"{i.agents_c:8d} {i.service_level_c:6.1%} {a_agents:>8} {a_sl:>6} {a_ab:>7}"
            )
    return "\n".join(lines)
