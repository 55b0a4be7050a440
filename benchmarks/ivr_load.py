"""Many concurrent calls through the IVR on the real Asterisk.

Starts the project's Asterisk (as the tests do: random AMI secret, free
ports, a scratch run directory) and a whole hotline process, then places
CALLS real SIP calls from ONE sipp process (tests.support.sipp.CallerLoad),
started at RATE per second so that all of them are on the line at once. Each
caller sends RTP audio, picks a language and a menu choice by DTMF (SIP
INFO), waits in its queue and hangs up. The choices cycle through
English/Mandarin and billing/technical, so every CDR is checked against the
caller's own digits.

Callers press like people who listen to the prompts: the language digit
DTMF_DELAY (2 s) after the answer, when the language prompt has said "For
English, press 1"; the menu digit DTMF_GAP (4 s) later, when the main menu
has said "For billing, press 1". A digit must reach the IVR while it
listens: Asterisk's AGI reads and discards every frame, DTMF included, that
arrives between two AGI commands (before the first GET DATA, between one
menu and the next), so a digit "pressed" before the prompt that asks for it
has started is lost - no caller can do that, but a timer that fires too soon
does.

sipp runs at a lower priority (--sipp-nice): in real life the callers'
phones are not on the PBX's machine, and on a small machine the load
generator would otherwise take CPU from Asterisk and the hotline.

An error is a call that was not answered or did not get its digits through
to Asterisk, a FastAGI session that failed, a call still up at the end, or a
caller whose CDR is missing or does not show exactly the IVR path and queue
that its digits choose.

p99_agi_ms: round trip of FastAGI commands that play nothing (SET VARIABLE,
...), i.e. how quickly Asterisk and our server answer each other under load.
peak_concurrent_calls: most calls up in Asterisk at once (the CTI's view,
sampled every 50 ms); peak_concurrent_callers: the same from sipp's log;
peak_ivr_sessions: most FastAGI IVR sessions at once.

Usage (root): python benchmarks/ivr_load.py [--calls 200] [--rate 40]
Last line: {"calls", "errors", "p99_agi_ms", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.config import Settings  # noqa: E402
from cti.db.models import CallRecord  # noqa: E402
from cti.server import running_hotline  # noqa: E402
from tests.support import pbx_load  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

#: (digits, IVR path, queue) a caller's choice leads to in ivr/flows/hotline.yaml
CHOICES = (
    ("11", "open>lang=en>menu=1>queue=billing", "billing"),
    ("12", "open>lang=en>menu=2>queue=technical", "technical"),
    ("21", "open>lang=zh>menu=1>queue=billing", "billing"),
    ("22", "open>lang=zh>menu=2>queue=technical", "technical"),
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    pbx_load.add_caller_load_options(
        parser, rate=40.0, hold_s=12.0, hold_help="time in queue per caller"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = pbx_load.scratch_settings(Path(tmp))
        async with pbx_load.asterisk(settings):
            result = await load(settings, args)
    print(json.dumps(result))


async def load(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    calls: int = args.calls
    callers = pbx_load.load_callers(calls, [digits for digits, _, _ in CHOICES])
    expected = {number: CHOICES[n % len(CHOICES)] for n, (number, _) in enumerate(callers)}
    async with running_hotline(settings) as running:
        core = running.hotline.core
        agi = running.agi
        peak_calls = peak_ivr = 0

        async def sample() -> None:
            nonlocal peak_calls, peak_ivr
            while True:
                peak_calls = max(peak_calls, len(core.calls))
                peak_ivr = max(peak_ivr, agi.active)
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        try:
            async with pbx_load.caller_load(settings, callers, args) as callers_load:
                result = await callers_load.wait()
            with contextlib.suppress(AssertionError):
                await wait_until(lambda: not core.calls, within=60, what="every call to end")
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        elapsed = time.perf_counter() - started
        still_up = len(core.calls)
        await running.hotline.drain()
        seen: Counter[str] = Counter()
        wrong: Counter[str] = Counter()
        cdr_count = 0
        async with running.hotline.repository.sessions() as session:
            for row in await session.scalars(select(CallRecord)):
                cdr_count += 1
                choice = expected.get(row.caller_number)
                if choice is None:
                    wrong[f"unknown caller {row.caller_number}"] += 1
                    continue
                seen[row.caller_number] += 1
                _, path, queue = choice
                if row.ivr_path != path or row.queue != queue:
                    wrong[f"{choice[0]}: {row.ivr_path} -> {row.queue}"] += 1
        wrong_cdrs = sum(wrong.values()) + sum(n - 1 for n in seen.values() if n > 1)
        missing_cdrs = sum(1 for number in expected if number not in seen)
        unanswered = sum(1 for call in result.calls if not call.answered)
        incomplete = sum(1 for call in result.calls if call.answered and not call.completed)
        times = [t * 1000 for t in agi.reply_times]
    if wrong:
        print(f"wrong IVR paths: {dict(wrong.most_common(10))}", file=sys.stderr)
    if result.diagnostics:
        print(result.diagnostics, file=sys.stderr)
    return {
        "calls": calls,
        "errors": unanswered + incomplete + agi.failed + wrong_cdrs + missing_cdrs + still_up,
        "p99_agi_ms": round(pct(times, 99), 3) if times else None,
        "p50_agi_ms": round(pct(times, 50), 3) if times else None,
        "agi_commands": len(times),
        "peak_concurrent_calls": peak_calls,
        "peak_concurrent_callers": result.peak_concurrent,
        "peak_ivr_sessions": peak_ivr,
        "unanswered": unanswered,
        "calls_incomplete": incomplete,
        "sipp_exit_code": result.exit_code,
        "calls_still_up": still_up,
        "agi_sessions_failed": agi.failed,
        "agi_sessions_completed": agi.completed,
        "cdr_rows": cdr_count,
        "wrong_cdrs": wrong_cdrs,
        "missing_cdrs": missing_cdrs,
        "rate_per_s": args.rate,
        "dtmf_delay_s": args.dtmf_delay_s,
        "dtmf_gap_s": args.dtmf_gap_s,
        "caller_audio": not args.no_audio,
        "elapsed_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    asyncio.run(main())
