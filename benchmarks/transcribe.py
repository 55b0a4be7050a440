"""Transcription throughput and memory, per engine, on this machine.

Makes CALLS two-party English calls of about SECONDS s per party with
espeak-ng and sox (8 kHz, one file per party, as recorded), then for each
engine measures:

* naive: in this process, one file at a time, a new model for every call
  (what a script that "just calls the engine" does);
* pool of 1 and of 2 worker processes (recordings.transcribe.worker): jobs
  in a scratch SQLite queue, each worker loads its model once and leases
  jobs; timed from the first lease to the last stored result (model loading
  is printed apart);
* peak resident memory of each worker process (sampled every 0.1 s).

x_realtime: seconds of audio (both parties) transcribed per wall-clock
second; higher is better. Whisper runs with one thread per worker.

Usage: python benchmarks/transcribe.py [--calls 6] [--seconds 30]
       [--engines vosk,whisper-tiny.en,whisper-base]
Last line: {"engine_results": [{"engine", "x_realtime", "naive_x_realtime",
"x_realtime_1_worker", "peak_rss_mb", "load_s"}...], "files", "audio_s"}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.db.models import TranscriptionJobState  # noqa: E402
from cti.db.repository import create_schema, make_engine  # noqa: E402
from recordings.transcribe.engines import load_engine  # noqa: E402
from recordings.transcribe.pipeline import transcribe_call  # noqa: E402
from recordings.transcribe.store import TranscriptionStore  # noqa: E402
from recordings.transcribe.tags import load_rules  # noqa: E402
from recordings.transcribe.types import AudioSource  # noqa: E402
from recordings.transcribe.worker import WorkerConfig, start_workers  # noqa: E402
from tests.support.speech import say, seconds, track, write  # noqa: E402

LINES = {
    "caller": [
        "Hi, my internet has been down for three days and nobody called me back.",
        "I already restarted the router twice, it did not help at all.",
        "This is terrible. I want to cancel my contract today.",
        "Let me speak to your manager right now please.",
    ],
    "agent": [
        "Thank you for calling, this is Anna. How can I help you today?",
        "I am sorry to hear that. Let me check the line to your address.",
        "I can see an outage in your area, the engineers are working on it.",
        "I understand. I will transfer you to my supervisor.",
    ],
}


def make_calls(folder: Path, calls: int, per_party_s: float) -> list[list[AudioSource]]:
    clips = {
        party: [say(text, "en-us", folder / f"{party}{i}.wav") for i, text in enumerate(lines)]
        for party, lines in LINES.items()
    }
    caller_placed: list[tuple[float, Path]] = []
    agent_placed: list[tuple[float, Path]] = []
    cursor, turn = 0.5, 0
    while cursor < per_party_s - 6:
        for party, placed in (("agent", agent_placed), ("caller", caller_placed)):
            clip = clips[party][turn % len(clips[party])]
            placed.append((cursor, clip))
            cursor += seconds(clip) + 0.7
        turn += 1
    total = max(cursor, per_party_s)
    caller = track(caller_placed, total)
    agent = track(agent_placed, total)
    result = []
    for index in range(calls):
        c = write(folder / f"call{index}-caller.wav", [caller])
        a = write(folder / f"call{index}-agent.wav", [agent])
        result.append([AudioSource("caller", str(c)), AudioSource("agent", str(a))])
    return result


def language_of(engine: str) -> str:
    return "en" if engine == "whisper-base" else ""


def naive(engine: str, calls: list[list[AudioSource]], cache: Path) -> float:
    rules = load_rules()
    started = time.perf_counter()
    for index, sources in enumerate(calls):
        model = load_engine(engine, whisper_cache_dir=cache, language=language_of(engine))
        transcribe_call(model, f"naive-{index}", sources, language_of(engine) or None, rules)
        del model
    return time.perf_counter() - started


async def pool(
    engine: str, calls: list[list[AudioSource]], workers: int, cache: Path, folder: Path
) -> tuple[float, float, list[float]]:
    """(seconds from first lease to last result, model load seconds, peak RSS MB per worker)."""
    url = f"sqlite+aiosqlite:///{folder / f'{engine}-{workers}.db'}"
    db = make_engine(url)
    await create_schema(db)
    store = TranscriptionStore(db)
    for index, sources in enumerate(calls):
        await store.enqueue(f"call-{index}", sources, engine, language_of(engine) or None)
    config = WorkerConfig(
        database_url=url,
        engine=engine,
        language=language_of(engine),
        whisper_cache_dir=cache,
        lease_s=300,
        poll_s=0.1,
    )
    spawned = time.perf_counter()
    processes = start_workers(config, workers)
    watched = [psutil.Process(p.pid) for p in processes if p.pid is not None]
    peaks = [0.0] * len(watched)
    first_lease: float | None = None
    all_done: float | None = None
    while any(p.is_alive() for p in processes):
        for index, proc in enumerate(watched):
            with contextlib.suppress(psutil.NoSuchProcess):
                peaks[index] = max(peaks[index], proc.memory_info().rss / 2**20)
        counts = await store.counts()
        now = time.perf_counter()
        if first_lease is None and counts[TranscriptionJobState.QUEUED] < len(calls):
            first_lease = now
        finished = counts[TranscriptionJobState.DONE] + counts[TranscriptionJobState.FAILED]
        if all_done is None and finished == len(calls):
            all_done = now
        await asyncio.sleep(0.1)
    for process in processes:
        process.join()
    jobs = await store.jobs()
    await db.dispose()
    bad = [job for job in jobs if job.state is not TranscriptionJobState.DONE]
    if bad:
        raise SystemExit(f"{engine}: {len(bad)} job(s) not done: {bad[0].error}")
    if first_lease is None or all_done is None:
        raise SystemExit(f"{engine}: the workers ended before the jobs were seen done")
    return all_done - first_lease, first_lease - spawned, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--engines", default="vosk,whisper-tiny.en,whisper-base")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        calls = make_calls(folder, args.calls, args.seconds)
        audio_s = sum(seconds(Path(s.path)) for sources in calls for s in sources)
        print(
            f"{len(calls)} calls, {2 * len(calls)} files, {audio_s:.0f} s of audio; "
            f"load average {psutil.getloadavg()[0]:.2f} on {psutil.cpu_count()} cores",
            flush=True,
        )
        results = []
        for engine in engines:
            load_engine(engine, whisper_cache_dir=cache, language=language_of(engine))  # warm
            naive_s = naive(engine, calls, cache)
            one_s, load_1, peaks_1 = asyncio.run(pool(engine, calls, 1, cache, folder))
            two_s, load_2, peaks_2 = asyncio.run(pool(engine, calls, 2, cache, folder))
            row = {
                "engine": engine,
                "x_realtime": round(audio_s / two_s, 1),
                "naive_x_realtime": round(audio_s / naive_s, 1),
                "x_realtime_1_worker": round(audio_s / one_s, 1),
                "peak_rss_mb": round(max(peaks_1 + peaks_2)),
                "load_s": round(max(load_1, load_2), 1),
            }
            results.append(row)
            print(
                f"{engine:16s} naive {row['naive_x_realtime']:6.1f}x  "
                f"1 worker {row['x_realtime_1_worker']:6.1f}x  "
                f"2 workers {row['x_realtime']:6.1f}x  "
                f"(real-time factor {two_s / audio_s:.3f} with 2, {one_s / audio_s:.3f} with 1)  "
                f"peak RSS per worker {row['peak_rss_mb']} MB  start-up {row['load_s']} s",
                flush=True,
            )
        print(
            json.dumps(
                {"engine_results": results, "files": 2 * len(calls), "audio_s": round(audio_s, 1)}
            )
        )


if __name__ == "__main__":
    main()
