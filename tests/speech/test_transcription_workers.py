"""Workers on the durable queue with a real engine: a worker killed mid-job leaves
its job to another worker after the lease, and the result is stored once; bad
recordings fail their own jobs with the reason while the next job goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from cti.db.models import CallTag, Transcript, TranscriptionJobState
from cti.db.repository import create_schema, make_engine
from recordings.transcribe.engines import Engine
from recordings.transcribe.store import TranscriptionStore
from recordings.transcribe.types import AudioSource
from recordings.transcribe.worker import WorkerConfig, run_worker, start_workers
from tests.support.speech import say, seconds, track, write

DONE, FAILED, RUNNING = (
    TranscriptionJobState.DONE,
    TranscriptionJobState.FAILED,
    TranscriptionJobState.RUNNING,
)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[str, TranscriptionStore]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    engine = make_engine(url)
    await create_schema(engine)
    try:
        yield url, TranscriptionStore(engine)
    finally:
        await engine.dispose()


def call_files(folder: Path, repeats: int) -> tuple[Path, Path]:
    line = say("I want to cancel my contract, this is not acceptable.", "en-us", folder / "c.wav")
    reply = say("I understand, let me see what I can do for you.", "en-us", folder / "a.wav")
    step = seconds(line) + seconds(reply) + 1.0
    total = repeats * step + 1.0
    caller = track([(i * step, line) for i in range(repeats)], total)
    agent = track([(i * step + seconds(line) + 0.5, reply) for i in range(repeats)], total)
    return write(folder / "long-caller.wav", [caller]), write(folder / "long-agent.wav", [agent])


async def wait_for(predicate, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_job_leaves_it_to_the_next_worker_and_it_is_stored_once(
    database: tuple[str, TranscriptionStore], tmp_path: Path
) -> None:
    url, store = database
    caller, agent = call_files(tmp_path, repeats=12)  # about 100 s per party
    job_id = await store.enqueue(
        "1764000000.3",
        [AudioSource("caller", str(caller)), AudioSource("agent", str(agent))],
        "whisper-tiny.en",
    )
    config = WorkerConfig(database_url=url, engine="whisper-tiny.en", lease_s=4.0, poll_s=0.2)

    (first,) = start_workers(config, 1)
    try:

        async def leased() -> bool:
            job = await store.job(job_id)
            return job is not None and job.state is RUNNING

        await wait_for(leased, 90, "the first worker to lease the job")
        os.kill(first.pid or 0, signal.SIGKILL)  # mid-job: nothing stored yet
        first.join(10)
    finally:
        if first.is_alive():
            first.kill()
    assert first.exitcode == -signal.SIGKILL
    job = await store.job(job_id)
    assert job is not None and (job.state, job.attempts) == (RUNNING, 1)
    assert await store.transcript("1764000000.3") is None

    (second,) = start_workers(config, 1)
    try:
        second.join(180)  # leases after the dead worker's lease ran out, finishes, exits
        assert second.exitcode == 0
    finally:
        if second.is_alive():
            second.kill()

    job = await store.job(job_id)
    assert job is not None and (job.state, job.attempts, job.error) == (DONE, 2, None)
    async with store.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Transcript)) == 1
        tags = list(await session.scalars(select(CallTag)))
    cancels = [t for t in tags if t.tag == "cancel"]
    assert len(cancels) >= 10  # said 12 times
    assert len({(t.tag, t.start_s) for t in tags}) == len(tags)  # one run's tags, once


async def test_bad_recordings_fail_with_their_reason_and_the_good_ones_are_transcribed(
    database: tuple[str, TranscriptionStore], whisper_en: Engine, tmp_path: Path
) -> None:
    url, store = database
    good = say("Thank you for calling, how can I help you?", "en-us", tmp_path / "good.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 20)
    silent = write(tmp_path / "short.wav", [np.zeros(200, dtype=np.int16)])
    recordings = {
        "missing": tmp_path / "missing.wav",
        "good-1": good,
        "empty": empty,
        "truncated": truncated,
        "non-audio": text,
        "too-short": silent,
        "good-2": good,
    }
    for call_id, path in recordings.items():
        await store.enqueue(call_id, [AudioSource("agent", str(path))], "whisper-tiny.en")

    done = await run_worker(
        WorkerConfig(database_url=url, engine="whisper-tiny.en"), engine=whisper_en
    )

    assert done == 2
    outcome = {job.call_id: (job.state, job.error) for job in await store.jobs()}
    assert outcome == {
        "missing": (FAILED, f"missing file: {recordings['missing']}"),
        "good-1": (DONE, None),
        "empty": (FAILED, f"empty file: {empty}"),
        "truncated": (FAILED, outcome["truncated"][1]),
        "non-audio": (FAILED, f"not a WAV recording: {text}"),
        "too-short": (FAILED, f"empty recording (0.03 s of audio): {silent}"),
        "good-2": (DONE, None),
    }
    assert str(outcome["truncated"][1]).startswith("truncated file: the header promises")
    for call_id in ("good-1", "good-2"):
        transcript = await store.transcript(call_id)
        assert transcript is not None and "help you" in transcript.text.lower()
