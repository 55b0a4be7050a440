"""`hotline transcribe` as a site runs it: re-queues a range of days for an engine,
runs the backlog with its worker processes and a progress bar, and exits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from cti.db.models import TranscriptionJobState
from cti.db.repository import Repository, create_schema, make_engine
from cti.domain.model import CallDetailRecord, Disposition
from recordings.transcribe.store import TranscriptionStore
from tests.support.speech import say


def cdr(call_id: str, day: int, recording: Path) -> CallDetailRecord:
    start = datetime(2026, 12, day, 10, 0, tzinfo=UTC).timestamp()
    return CallDetailRecord(
        call_id=call_id,
        caller_number="15550100002",
        caller_name="Bob",
        ivr_path="",
        queue="billing",
        agent_id="1001",
        entered_at=start,
        queued_at=start + 5,
        answered_at=start + 10,
        ended_at=start + 70,
        wait_s=10.0,
        talk_s=60.0,
        disposition=Disposition.ANSWERED,
        recording_path=str(recording),
    )


async def test_transcribe_runs_the_chosen_days_again_with_another_engine(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    engine = make_engine(url)
    await create_schema(engine)
    good = say("I would like to cancel my order please.", "en-us", tmp_path / "good.wav")
    await Repository(engine).save_cdrs(  # stored without a transcription engine: no jobs
        [
            (cdr("1764800000.1", 2, good), None),
            (cdr("1764800000.2", 3, tmp_path / "gone.wav"), None),
            (cdr("1764800000.3", 5, good), None),  # outside the days asked for
        ]
    )
    store = TranscriptionStore(engine)
    assert await store.jobs() == []

    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_WHISPER_CACHE_DIR": str(tmp_path)}
    env.pop("HOTLINE_CONFIG", None)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cti", "transcribe", "--engine", "whisper-tiny.en",
         "--since", "2026-12-02", "--until", "2026-12-03", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "queued 2 recorded call(s) from 2026-12-02 to 2026-12-03 for whisper-tiny.en" in (
        done.stdout
    )
    assert "files 2/2, failed 1" in done.stderr  # the progress bar
    assert "audio h" in done.stderr
    jobs = {job.call_id: job for job in await store.jobs()}
    assert set(jobs) == {"1764800000.1", "1764800000.2"}
    assert jobs["1764800000.1"].state is TranscriptionJobState.DONE
    assert jobs["1764800000.2"].state is TranscriptionJobState.FAILED
    assert jobs["1764800000.2"].error == f"missing file: {tmp_path / 'gone.wav'}"
    transcript = await store.transcript("1764800000.1")
    assert transcript is not None and transcript.engine == "whisper-tiny.en"
    # a mono recording: both parties mixed; nobody greeted
    assert {t.tag for t in await store.tags("1764800000.1")} == {"cancel", "no_greeting"}
    await engine.dispose()
