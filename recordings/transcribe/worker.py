"""Transcription workers: processes that lease jobs from the database, one model each.

A worker loads its engine's model once and reuses it for every file. While
it transcribes (in a thread, so the event loop stays free) it renews its
lease every third of ``lease_s``; a worker that dies stops renewing and its
job goes to another worker once the lease runs out. A bad recording fails
its own job with the reason; the worker goes on with the next.

Peak memory per worker (resident, benchmarks/transcribe.py): Vosk with the
small Korean model 730 MB; faster-whisper tiny.en 380 MB; the multilingual
base 460 MB. Run one worker per core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
import uuid
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from pathlib import Path

from cti.db.repository import make_engine
from recordings.transcribe.audio import AudioError
from recordings.transcribe.engines import Engine, load_engine
from recordings.transcribe.pipeline import transcribe_call
from recordings.transcribe.store import LeasedJob, TranscriptionStore
from recordings.transcribe.tags import TagRules, load_rules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker process needs (picklable: passed to spawned processes)."""

    database_url: str
    engine: str
    language: str = ""
    vosk_model_path: Path | None = None
    whisper_cache_dir: Path | None = None
    rules_file: Path | None = None
    lease_s: float = 120.0
    poll_s: float = 1.0
    # stop when no job of the engine is queued or held (a backlog run);
    # False: wait for new jobs for ever (a service)
    exit_when_idle: bool = True
    threads: int = 1
    log_level: int = logging.WARNING


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def open_engine(config: WorkerConfig) -> Engine:
    return load_engine(
        config.engine,
        vosk_model_path=config.vosk_model_path,
        whisper_cache_dir=config.whisper_cache_dir,
        language=config.language,
        threads=config.threads,
    )


async def _keep_lease(store: TranscriptionStore, job: LeasedJob, lease_s: float) -> None:
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            if not await store.renew(job, lease_s):
                log.warning("job %d: lease lost to another worker", job.id)
                return
        except Exception:
            log.exception("job %d: renewing the lease failed", job.id)


async def process_job(
    store: TranscriptionStore,
    engine: Engine,
    rules: TagRules,
    job: LeasedJob,
    config: WorkerConfig,
) -> bool:
    """Transcribe one leased job and store the outcome; True when stored done."""
    renewer = asyncio.create_task(_keep_lease(store, job, config.lease_s))
    try:
        result = await asyncio.to_thread(
            transcribe_call,
            engine,
            job.call_id,
            job.sources,
            job.language or config.language or None,
            rules,
        )
    except AudioError as exc:
        log.warning("job %d (call %s) failed: %s", job.id, job.call_id, exc)
        await store.fail(job, str(exc))
        return False
    except Exception as exc:
        log.exception("job %d (call %s): the engine failed", job.id, job.call_id)
        await store.fail(job, f"engine error: {type(exc).__name__}: {exc}")
        return False
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
    transcript, tags = result
    try:
        stored = await store.complete(job, transcript, tags)
    except Exception:
        # the database refused (outage, a concurrent write): the lease runs out and
        # the job is done again
        log.exception("job %d: storing the result failed; it will be retried", job.id)
        return False
    if not stored:
        log.warning("job %d: finished after its lease was taken; result dropped", job.id)
    return stored


async def run_worker(
    config: WorkerConfig, engine: Engine | None = None, owner: str | None = None
) -> int:
    """Lease and process jobs of ``config.engine``; returns how many were stored done."""
    if engine is None:
        engine = await asyncio.to_thread(open_engine, config)
    rules = load_rules(config.rules_file)
    owner = owner or new_owner()
    db = make_engine(config.database_url)
    store = TranscriptionStore(db)
    done = 0
    try:
        while True:
            try:
                job = await store.lease(owner, config.lease_s, engines=[engine.name])
            except Exception:
                log.exception("leasing a job failed; trying again")
                await asyncio.sleep(5 * config.poll_s)
                continue
            if job is None:
                if config.exit_when_idle and not await store.pending([engine.name]):
                    return done
                await asyncio.sleep(config.poll_s)
                continue
            log.info("job %d (call %s): attempt %d", job.id, job.call_id, job.attempt)
            done += await process_job(store, engine, rules, job, config)
    finally:
        await db.dispose()


def worker_main(config: WorkerConfig) -> None:
    """Entry point of a worker process."""
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s worker %(process)d: %(message)s",
    )
    logging.getLogger("faster_whisper").setLevel(max(config.log_level, logging.WARNING))
    os.environ.setdefault("OMP_NUM_THREADS", str(config.threads))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(config))


def start_workers(config: WorkerConfig, count: int) -> list[SpawnProcess]:
    """Start ``count`` worker processes (spawned: no state shared with this one)."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker_main, args=(config,), name=f"transcribe-{i}", daemon=False)
        for i in range(count)
    ]
    for process in processes:
        process.start()
    return processes
