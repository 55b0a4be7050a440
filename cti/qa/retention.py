"""Retention: a call's recordings and transcript are deleted once older than
``retention_days``, unless the call is tagged ``hold``.

The CDR stays (the call happened; reports read it): its recording and
voicemail paths are cleared, the audio files (mixed, each party's,
voicemail) removed, the transcript row deleted. Only files inside the
recordings folder are ever removed. Each run is written to the audit log.
Run by ``hotline retention`` (daily, from cron or a systemd timer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.audit import AuditLog
from cti.db.models import CallRecord, CallTag, Transcript
from cti.qa.store import HOLD_TAG
from recordings.transcribe.sources import PARTY_SUFFIXES, party_file

log = logging.getLogger(__name__)

AUDIT_ACTION = "retention.delete"


@dataclass(slots=True)
class RetentionReport:
    cutoff: datetime
    calls: list[str] = field(default_factory=list)  # calls whose media went
    files: list[Path] = field(default_factory=list)  # files removed
    transcripts: int = 0
    held: int = 0  # old calls kept for their "hold" tag


def _inside(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def media_files(recordings_dir: Path, cdr: CallRecord) -> list[Path]:
    """The call's audio files that exist inside the recordings folder."""
    paths: list[Path] = []
    if cdr.recording_path:
        mixed = Path(cdr.recording_path)
        paths += [mixed] + [party_file(mixed, party) for party in PARTY_SUFFIXES]
    if cdr.voicemail_path:
        paths.append(Path(cdr.voicemail_path))
    return [p for p in paths if _inside(recordings_dir, p) and p.is_file() and not p.is_symlink()]


async def apply_retention(
    engine: AsyncEngine,
    recordings_dir: Path,
    retention_days: int,
    now: float,
    *,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete the media of calls that ended before ``now - retention_days``."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = datetime.fromtimestamp(now, UTC) - timedelta(days=retention_days)
    report = RetentionReport(cutoff)
    held = exists().where(CallTag.call_id == CallRecord.call_id, CallTag.tag == HOLD_TAG)
    has_transcript = exists().where(Transcript.call_id == CallRecord.call_id)
    has_media = or_(CallRecord.recording_path.is_not(None), CallRecord.voicemail_path.is_not(None))
    old = select(CallRecord).where(CallRecord.ended_at < cutoff, or_(has_media, has_transcript))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        candidates = list(await session.scalars(old.where(~held)))
        report.held = len(list(await session.scalars(old.where(held))))
    for cdr in candidates:
        report.calls.append(cdr.call_id)
        report.files += media_files(recordings_dir, cdr)
    if dry_run or not report.calls:
        return report
    for path in report.files:
        path.unlink(missing_ok=True)
    async with sessions.begin() as session:
        for start in range(0, len(report.calls), 500):
            ids = report.calls[start : start + 500]
            gone = await session.execute(delete(Transcript).where(Transcript.call_id.in_(ids)))
            report.transcripts += gone.rowcount or 0  # type: ignore[attr-defined]
            await session.execute(
                update(CallRecord)
                .where(CallRecord.call_id.in_(ids))
                .values(recording_path=None, voicemail_path=None)
            )
    await AuditLog(engine).append(
        "retention",
        "system",
        AUDIT_ACTION,
        f"{len(report.calls)} calls",
        {
            "cutoff": cutoff.isoformat(),
            "files": len(report.files),
            "transcripts": report.transcripts,
            "held": report.held,
        },
        at=now,
    )
    log.info(
        "retention: %d calls before %s: %d files, %d transcripts deleted; %d held",
        len(report.calls),
        cutoff.isoformat(),
        len(report.files),
        report.transcripts,
        report.held,
    )
    return report
