"""The transcription tables: a durable job queue with leases, transcripts stored
exactly once, rule tags replaced and manual tags kept, jobs queued with CDRs."""

from __future__ import annotations

import dataclasses
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.db.models import TranscriptionJobState
from cti.db.repository import Repository
from cti.domain.model import CallDetailRecord
from recordings.transcribe.store import TranscriptionStore
from recordings.transcribe.types import AudioSource, TagMatch, TranscriptData
from tests.support.call_records import cdr

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SOURCES = [AudioSource("caller", "/rec/a-caller.wav"), AudioSource("agent", "/rec/a-agent.wav")]


def result(call_id: str, text: str = "hello") -> TranscriptData:
    return TranscriptData(
        call_id=call_id,
        engine="vosk",
        language="en",
        duration_s=12.5,
        turns=[{"party": "caller", "start": 0.5, "end": 1.5, "text": text, "words": []}],
        analytics={"talk_s": {"caller": 1.0}},
        text=text,
    )


@pytest.fixture
def store(db_engine: AsyncEngine) -> TranscriptionStore:
    return TranscriptionStore(db_engine, max_attempts=2)


async def test_a_queued_job_is_leased_by_one_worker_only(store: TranscriptionStore) -> None:
    job_id = await store.enqueue("call-1", SOURCES, "vosk")

    first = await store.lease("w1", 60, now=T0)
    second = await store.lease("w2", 60, now=T0)

    assert first is not None and first.id == job_id
    assert first.sources == tuple(SOURCES) and first.attempt == 1
    assert second is None
    view = await store.job(job_id)
    assert view is not None and view.state is TranscriptionJobState.RUNNING


async def test_workers_lease_only_jobs_of_their_engine(store: TranscriptionStore) -> None:
    await store.enqueue("call-1", SOURCES, "whisper-base", language="zh")
    assert await store.lease("w1", 60, engines=["vosk"], now=T0) is None
    job = await store.lease("w1", 60, engines=["whisper-base"], now=T0)
    assert job is not None and job.language == "zh"


async def test_an_expired_lease_goes_to_the_next_worker_and_the_old_result_is_refused(
    store: TranscriptionStore,
) -> None:
    await store.enqueue("call-1", SOURCES, "vosk")
    dead = await store.lease("w1", 60, now=T0)
    assert dead is not None
    assert await store.lease("w2", 60, now=T0 + timedelta(seconds=59)) is None

    taken = await store.lease("w2", 60, now=T0 + timedelta(seconds=61))

    assert taken is not None and taken.attempt == 2
    assert not await store.renew(dead, 60)
    assert await store.complete(taken, result("call-1", "second"), [])
    assert not await store.complete(dead, result("call-1", "first"), [])
    transcript = await store.transcript("call-1")
    assert transcript is not None and transcript.text == "second"
    view = await store.job(taken.id)
    assert view is not None and view.state is TranscriptionJobState.DONE
    assert view.audio_s == 12.5


async def test_a_renewed_lease_is_not_taken(store: TranscriptionStore) -> None:
    await store.enqueue("call-1", SOURCES, "vosk")
    job = await store.lease("w1", 60, now=T0)
    assert job is not None
    assert await store.renew(job, 60, now=T0 + timedelta(seconds=50))
    assert await store.lease("w2", 60, now=T0 + timedelta(seconds=100)) is None


async def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(
    store: TranscriptionStore,
) -> None:
    job_id = await store.enqueue("call-1", SOURCES, "vosk")
    later = T0
    for _ in range(2):
        assert await store.lease("w", 10, now=later) is not None
        later += timedelta(seconds=11)

    assert await store.lease("w", 10, now=later) is None
    view = await store.job(job_id)
    assert view is not None and view.state is TranscriptionJobState.FAILED
    assert view.error is not None and "2 attempts" in view.error


async def test_a_failed_job_keeps_its_reason_and_the_next_job_is_leased(
    store: TranscriptionStore,
) -> None:
    await store.enqueue("call-1", SOURCES, "vosk")
    await store.enqueue("call-2", SOURCES, "vosk")
    bad = await store.lease("w1", 60)
    assert bad is not None
    assert await store.fail(bad, "empty file: /rec/a-caller.wav")

    good = await store.lease("w1", 60)
    assert good is not None and good.call_id == "call-2"
    (failed,) = await store.jobs([TranscriptionJobState.FAILED])
    assert failed.error == "empty file: /rec/a-caller.wav"
    counts = await store.counts()
    assert counts[TranscriptionJobState.FAILED] == 1
    assert counts[TranscriptionJobState.RUNNING] == 1


async def test_transcribing_again_replaces_the_transcript_and_rule_tags_not_manual_ones(
    store: TranscriptionStore,
) -> None:
    await store.enqueue("call-1", SOURCES, "vosk")
    job = await store.lease("w1", 60)
    assert job is not None
    await store.complete(job, result("call-1"), [TagMatch("cancel", 3.0, 3.5, {"word": "cancel"})])
    await store.add_manual_tag("call-1", "training", 1.0, None, created_by="qa1")

    await store.enqueue("call-1", SOURCES, "whisper-tiny.en")
    again = await store.lease("w2", 60)
    assert again is not None and again.engine == "whisper-tiny.en"
    await store.complete(
        again,
        dataclasses.replace(result("call-1", "new"), engine="whisper-tiny.en"),
        [TagMatch("supervisor_request", 5.0, 6.0)],
    )

    transcript = await store.transcript("call-1")
    assert transcript is not None
    assert (transcript.engine, transcript.text) == ("whisper-tiny.en", "new")
    tags = await store.tags("call-1")
    assert [(t.tag, t.source, t.start_s) for t in tags] == [
        ("training", "manual", 1.0),
        ("supervisor_request", "rule", 5.0),
    ]


def _cdr(call_id: str, recording: str | None) -> CallDetailRecord:
    return dataclasses.replace(cdr(call_id), recording_path=recording, callback_outcome=None)


async def test_a_stored_cdr_with_a_recording_queues_one_job_with_its_parties(
    store: TranscriptionStore, tmp_path: Path
) -> None:
    stereo = tmp_path / "1764000000.1.wav"
    with wave.open(str(stereo), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * 1600)
    mono = tmp_path / "1764000000.2.wav"
    for party in ("caller", "agent"):
        (tmp_path / f"1764000000.2-{party}.wav").write_bytes(b"RIFF")
    repository = Repository(store.engine, transcription_engine="vosk")

    batch = [(_cdr("1764000000.1", str(stereo)), None), (_cdr("1764000000.2", str(mono)), None)]
    await repository.save_cdrs([*batch, (_cdr("1764000000.3", None), None)])
    await repository.save_cdrs(batch)  # written again: no second job

    jobs = await store.jobs()
    assert [(j.call_id, j.engine, j.state) for j in jobs] == [
        ("1764000000.1", "vosk", TranscriptionJobState.QUEUED),
        ("1764000000.2", "vosk", TranscriptionJobState.QUEUED),
    ]
    assert jobs[0].sources == (
        AudioSource("caller", str(stereo), 0),
        AudioSource("agent", str(stereo), 1),
    )
    assert jobs[1].sources == (
        AudioSource("caller", str(tmp_path / "1764000000.2-caller.wav")),
        AudioSource("agent", str(tmp_path / "1764000000.2-agent.wav")),
    )
    calls = await store.recorded_calls(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert [c for c, _ in calls] == ["1764000000.1", "1764000000.2"]


async def test_without_a_transcription_engine_no_job_is_queued(
    store: TranscriptionStore, tmp_path: Path
) -> None:
    await Repository(store.engine).save_cdrs([(_cdr("c", str(tmp_path / "c.wav")), None)])
    assert await store.jobs() == []
