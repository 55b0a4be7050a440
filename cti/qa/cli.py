"""``hotline retention``: delete recordings and transcripts past ``retention_days``."""

from __future__ import annotations

import argparse
import asyncio
import time

from cti.config import Settings
from cti.db.repository import create_schema, make_engine
from cti.qa.retention import RetentionReport, apply_retention
from cti.qa.store import HOLD_TAG


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``retention`` command."""
    parser = sub.add_parser(
        "retention",
        help=f"delete recordings and transcripts older than retention_days (not tagged {HOLD_TAG})",
        description=__doc__,
    )
    parser.add_argument(
        "--days", type=int, default=None, help="override retention_days for this run"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    parser.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else settings.retention_days
    if days < 1:
        print("retention is off: set retention_days (or pass --days N, N >= 1)")
        return 2
    report = asyncio.run(_run(settings, days, args.dry_run))
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"calls ended before {report.cutoff.isoformat()}: {verb} the media of "
        f"{len(report.calls)} calls ({len(report.files)} files"
        + ("" if args.dry_run else f", {report.transcripts} transcripts")
        + f"); {report.held} kept for their {HOLD_TAG!r} tag"
    )
    if args.dry_run:
        for path in report.files:
            print(f"  {path}")
    return 0


async def _run(settings: Settings, days: int, dry_run: bool) -> RetentionReport:
    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        return await apply_retention(
            engine, settings.recordings_dir, days, time.time(), dry_run=dry_run
        )
    finally:
        await engine.dispose()
