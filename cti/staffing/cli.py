"""``hotline staffing``: agents needed per interval for a day, printed as a table."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, timedelta

from cti.config import Settings
from cti.db.repository import create_schema, make_engine
from cti.staffing.report import StaffingRequestError, build_plan, format_plan, plan_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``staffing`` command."""
    parser = sub.add_parser(
        "staffing",
        help="agents needed per interval (Erlang C and A) from past weeks' calls",
        description=__doc__,
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="the day to plan, YYYY-MM-DD (default: tomorrow)",
    )
    parser.add_argument("--weeks", type=int, default=4, help="same weekday in the last N weeks")
    parser.add_argument("--interval", type=int, default=30, choices=(15, 30, 60), help="minutes")
    parser.add_argument(
        "--weighting",
        choices=("equal", "recent"),
        default="equal",
        help="equal: plain mean of the weeks; recent: weights N..1, most recent first",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    day = args.date or date.today() + timedelta(days=1)
    try:
        return asyncio.run(_run(settings, args, day))
    except StaffingRequestError as exc:
        print(f"hotline staffing: {exc}", file=sys.stderr)
        return 2


async def _run(settings: Settings, args: argparse.Namespace, day: date) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        plan = await build_plan(
            engine,
            settings,
            day,
            weeks=args.weeks,
            interval_min=args.interval,
            weighting=args.weighting,
        )
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps(plan_json(plan, {}), ensure_ascii=False))
    else:
        print(format_plan(plan))
    return 0
