"""Retention: recordings and transcripts past retention_days go, unless tagged "hold"."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti import cli
from cti.audit import AuditLog
from cti.db.models import CallRecord, CallTag, Transcript
from cti.db.repository import create_schema, make_engine
from cti.qa.retention import apply_retention
from cti.qa.store import QaStore
from tests.support.call_records import answered_row

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def media(folder: Path, call_id: str) -> list[Path]:
    files = [folder / f"{call_id}{s}.wav" for s in ("", "-caller", "-agent")]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF....WAVE")
    return files


async def add_call(
    engine: AsyncEngine, call_id: str, ended: datetime, recording: Path | None, *tags: str
) -> None:
    async with QaStore(engine).sessions.begin() as session:
        session.add(
            answered_row(
                call_id,
                ended - timedelta(minutes=5),
                ended,
                200.0,
                recording_path=str(recording) if recording else None,
            )
        )
        session.add(
            Transcript(
                call_id=call_id,
                engine="vosk",
                language="en",
                created_at=ended,
                duration_s=200.0,
                turns=[{"party": "caller", "start": 0.0, "end": 1.0, "text": "my card is"}],
                analytics={},
                text="caller: my card is",
            )
        )
        for tag in tags:
            session.add(CallTag(call_id=call_id, tag=tag, created_at=ended))


async def state(engine: AsyncEngine) -> dict[str, Any]:
    async with QaStore(engine).sessions() as session:
        cdrs = {c.call_id: c.recording_path for c in await session.scalars(select(CallRecord))}
        transcripts = set(await session.scalars(select(Transcript.call_id)))
    return {"cdrs": cdrs, "transcripts": transcripts}


async def test_old_recordings_and_transcripts_go_unless_held(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    outside = tmp_path / "elsewhere" / "x.wav"
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    try:
        await create_schema(engine)
        old_files, held_files, new_files = (media(folder, c) for c in ("old", "held", "new"))
        (outside_file,) = [p for p in media(outside.parent, "x") if p.name == "x.wav"]
        await add_call(engine, "old", NOW - timedelta(days=31), old_files[0], "cancel")
        await add_call(engine, "held", NOW - timedelta(days=400), held_files[0], "hold")
        await add_call(engine, "new", NOW - timedelta(days=29), new_files[0])
        # a stored path outside the recordings folder is never deleted from disk
        await add_call(engine, "odd", NOW - timedelta(days=60), outside_file)

        dry = await apply_retention(engine, folder, 30, NOW.timestamp(), dry_run=True)
        assert (sorted(dry.calls), dry.held) == (["odd", "old"], 1)
        assert all(p.exists() for p in old_files)  # a dry run deletes nothing

        report = await apply_retention(engine, folder, 30, NOW.timestamp())
        assert sorted(report.calls) == ["odd", "old"]
        assert sorted(report.files) == sorted(old_files)
        assert (report.transcripts, report.held) == (2, 1)
        assert not any(p.exists() for p in old_files)
        assert all(p.exists() for p in held_files + new_files) and outside_file.exists()
        after = await state(engine)
        assert after["cdrs"] == {  # the calls stay, their media is gone
            "old": None,
            "odd": None,
            "held": str(held_files[0]),
            "new": str(new_files[0]),
        }
        assert after["transcripts"] == {"held", "new"}
        (entry,) = await AuditLog(engine).entries(action="retention.delete")
        assert (entry.username, entry.target) == ("retention", "2 calls")
        assert entry.detail["files"] == 3 and entry.detail["held"] == 1
        # nothing left to do: a second run deletes nothing more
        again = await apply_retention(engine, folder, 30, NOW.timestamp())
        assert (again.calls, again.files) == ([], [])
    finally:
        await engine.dispose()


def test_retention_command_deletes_with_the_configured_days_and_is_off_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "recordings"
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    files = media(folder, "c1")

    async def store() -> None:
        engine = make_engine(url)
        await create_schema(engine)
        ended = datetime.fromtimestamp(time.time(), UTC) - timedelta(days=10)
        await add_call(engine, "c1", ended, files[0])
        await engine.dispose()

    asyncio.run(store())
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(folder))
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_RETENTION_DAYS", raising=False)
    assert cli.main(["retention"]) == 2  # retention_days 0: off
    assert "retention is off" in capsys.readouterr().out
    assert cli.main(["retention", "--days", "30"]) == 0
    assert all(p.exists() for p in files)  # 10 days old: kept
    monkeypatch.setenv("HOTLINE_RETENTION_DAYS", "7")
    assert cli.main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete the media of 1 calls (3 files)" in out and str(files[1]) in out
    assert all(p.exists() for p in files)
    assert cli.main(["retention"]) == 0
    assert "deleted the media of 1 calls (3 files, 1 transcripts)" in capsys.readouterr().out
    assert not any(p.exists() for p in files)
