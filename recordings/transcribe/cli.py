"""``hotline transcribe``: run the transcription backlog with a worker pool.

hotline transcribe                      # every queued job, then exit
hotline transcribe --watch              # and keep waiting for new calls
hotline transcribe --since 2026-12-01 --until 2026-12-04 --engine whisper-tiny.en
                                        # transcribe those days' calls again
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from cti.config import Settings
from cti.db.models import TranscriptionJobState
from cti.db.repository import create_schema, make_engine
from recordings.transcribe.sources import recording_sources
from recordings.transcribe.store import JobView, TranscriptionStore
from recordings.transcribe.types import ENGINES

if TYPE_CHECKING:  # the worker side needs the speech extra: imported when run
    from recordings.transcribe.worker import WorkerConfig

FINISHED = (TranscriptionJobState.DONE, TranscriptionJobState.FAILED)


def register(sub: Any) -> None:
    """Add the ``transcribe`` subcommand to the ``hotline`` parser."""
    parser = sub.add_parser("transcribe", help="transcribe recorded calls (the job backlog)")
    parser.add_argument("--engine", choices=ENGINES, help="default: transcription_engine")
    parser.add_argument("--language", help="force the language (whisper-base), e.g. zh")
    parser.add_argument("--workers", type=int, help="worker processes (default: setting)")
    parser.add_argument("--since", type=date.fromisoformat, help="re-run calls from this day")
    parser.add_argument("--until", type=date.fromisoformat, help="... up to this day, included")
    parser.add_argument("--watch", action="store_true", help="keep waiting for new jobs")
    parser.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from recordings.transcribe.worker import WorkerConfig

    engine = args.engine or settings.transcription_engine
    if engine not in ENGINES:
        print(f"hotline transcribe: unknown engine {engine!r}", file=sys.stderr)
        return 2
    config = WorkerConfig(
        database_url=settings.effective_database_url,
        engine=engine,
        language=args.language or settings.transcription_language,
        vosk_model_path=settings.vosk_model_path,
        whisper_cache_dir=settings.whisper_cache_dir,
        rules_file=settings.tag_rules_file,
        lease_s=settings.transcription_lease_s,
        exit_when_idle=not args.watch,
        log_level=logging.DEBUG if args.verbose else logging.WARNING,
    )
    workers = max(1, args.workers or settings.transcription_workers)
    try:
        return asyncio.run(_run(config, workers, args.since, args.until))
    except KeyboardInterrupt:
        return 130


async def requeue(
    store: TranscriptionStore, since: date, until: date, engine: str, language: str | None
) -> int:
    """Queue the recorded calls that entered between the two days (included) again."""
    start = datetime.combine(since, dtime(), UTC)
    end = datetime.combine(until, dtime(), UTC) + timedelta(days=1)
    calls = await store.recorded_calls(start, end)
    for call_id, path in calls:
        sources = await asyncio.to_thread(recording_sources, path)
        await store.enqueue(call_id, sources, engine, language)
    return len(calls)


def _audio(job: JobView) -> float:
    from recordings.transcribe.audio import audio_seconds

    return (
        job.audio_s
        if job.audio_s is not None
        else max((audio_seconds(s.path) for s in job.sources), default=0.0)
    )


async def _run(config: WorkerConfig, workers: int, since: date | None, until: date | None) -> int:
    from tqdm import tqdm

    from recordings.transcribe.worker import start_workers

    db = make_engine(config.database_url)
    store = TranscriptionStore(db)
    try:
        await create_schema(db)
        if since is not None or until is not None:
            first, last = since or until, until or since
            assert first is not None and last is not None
            added = await requeue(store, first, last, config.engine, config.language or None)
            print(f"queued {added} recorded call(s) from {first} to {last} for {config.engine}")
        backlog = await store.jobs(
            [TranscriptionJobState.QUEUED, TranscriptionJobState.RUNNING], [config.engine]
        )
        audio = {job.id: await asyncio.to_thread(_audio, job) for job in backlog}
        print(
            f"{len(backlog)} file(s), {sum(audio.values()) / 3600:.2f} h of audio, "
            f"{workers} worker(s) with {config.engine}",
            flush=True,
        )
        if not backlog and not config.exit_when_idle:
            print("waiting for new calls (Ctrl-C stops)", flush=True)
        processes = start_workers(config, workers)
        restarts = 0
        bar = tqdm(
            total=round(sum(audio.values()) / 3600, 4),
            unit="h",
            bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} audio h [{elapsed}<{remaining}]{postfix}",
            dynamic_ncols=True,
        )
        try:
            while True:
                await asyncio.sleep(1.0)
                jobs = await store.jobs(engines=[config.engine])
                for job in jobs:
                    if job.id not in audio and job.state not in FINISHED:
                        audio[job.id] = await asyncio.to_thread(_audio, job)
                        bar.total = round(sum(audio.values()) / 3600, 4)
                mine = [job for job in jobs if job.id in audio]
                finished = [job for job in mine if job.state in FINISHED]
                failed = sum(job.state is TranscriptionJobState.FAILED for job in finished)
                bar.n = round(sum(audio[job.id] for job in finished) / 3600, 4)
                bar.set_postfix_str(f" files {len(finished)}/{len(mine)}, failed {failed}")
                bar.refresh()
                alive = [p for p in processes if p.is_alive()]
                pending = await store.pending([config.engine])
                if not alive and not pending and config.exit_when_idle:
                    break
                for process in processes:
                    if not process.is_alive() and process.exitcode not in (0, None):
                        if restarts >= 2 * workers:
                            print("hotline transcribe: workers keep dying", file=sys.stderr)
                            return 1
                        restarts += 1
                        processes.remove(process)
                        processes += start_workers(config, 1)
                if not alive and config.exit_when_idle and pending:
                    processes += start_workers(config, workers)
        finally:
            bar.close()
            for process in processes:
                if process.is_alive():
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes:
                process.join(max(0.1, deadline - time.monotonic()))
        counts = await store.counts()
        print(
            f"done {counts[TranscriptionJobState.DONE]}, "
            f"failed {counts[TranscriptionJobState.FAILED]} (all engines)"
        )
        return 0
    finally:
        await db.dispose()
