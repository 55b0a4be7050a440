"""Many concurrent calls through the IVR on the real Asterisk.

Starts the project's Asterisk (as the tests do: random AMI secret, free
ports, a scratch run directory) and a whole hotline process, then places
CALLS real SIP calls with sipp, started at RATE per second so that all of them
are in the IVR at once. Each caller picks English and menu 1 by DTMF (SIP
INFO), waits in queue billing, and hangs up. An error is a call that was not
answered, a FastAGI session that failed, or a CDR that does not show the IVR
path and queue the caller chose.

p99_agi_ms: round trip of FastAGI commands that play nothing (SET VARIABLE,
...), i.e. how quickly Asterisk and our server answer each other under load.

Usage (root): python benchmarks/ivr_load.py [--calls 200] [--rate 40]
Last line: {"calls", "errors", "p99_agi_ms", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.config import Settings  # noqa: E402
from cti.db.models import CallRecord  # noqa: E402
from cti.pbx import runtime  # noqa: E402
from cti.server import running_hotline  # noqa: E402
from tests.support.pbx_fixture import free_tcp_port, free_udp_port  # noqa: E402
from tests.support.sipp import CallHandle, start_call  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=40.0, help="new calls per second")
    parser.add_argument("--hold-s", type=float, default=12.0, help="time in queue per caller")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(
            ami_port=free_tcp_port(),
            ami_secret=SecretStr(secrets.token_urlsafe(24)),
            sip_port=free_udp_port(),
            agi_port=free_tcp_port(),
            web_port=free_tcp_port(),
            asterisk_run_dir=base / "run",
            recordings_dir=base / "recordings",
            database_url=f"sqlite+aiosqlite:///{base / 'hotline.db'}",
        )
        await asyncio.to_thread(runtime.start, settings)
        try:
            result = await load(settings, args.calls, args.rate, args.hold_s)
        finally:
            await asyncio.to_thread(runtime.stop, settings)
    print(json.dumps(result))


async def load(settings: Settings, calls: int, rate: float, hold_s: float) -> dict[str, object]:
    async with running_hotline(settings) as running:
        core = running.hotline.core
        handles: list[CallHandle] = []
        started = time.perf_counter()
        for n in range(calls):
            handles.append(
                await start_call(
                    settings.sip_port,
                    caller_number=f"1555{n:07d}",
                    dtmf="11",
                    dtmf_gap_s=1.0,
                    talk_s=hold_s,
                )
            )
            delay = started + (n + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        peak = len(core.calls)
        results = await asyncio.gather(*(h.wait(hold_s + 120) for h in handles))
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: not core.calls, within=60, what="every call to end")
        still_up = len(core.calls)
        await running.hotline.drain()
        unanswered = sum(1 for r in results if not r.answered)
        agi_failed = running.agi.failed
        wrong_cdrs = 0
        cdr_count = 0
        async with running.hotline.repository.sessions() as session:
            for row in await session.scalars(select(CallRecord)):
                cdr_count += 1
                if row.queue != "billing" or "menu=1" not in row.ivr_path:
                    wrong_cdrs += 1
        missing_cdrs = max(0, calls - cdr_count)
        times = [t * 1000 for t in running.agi.reply_times]
    return {
        "calls": calls,
        "errors": unanswered + agi_failed + wrong_cdrs + missing_cdrs + still_up,
        "p99_agi_ms": round(pct(times, 99), 3) if times else None,
        "p50_agi_ms": round(pct(times, 50), 3) if times else None,
        "agi_commands": len(times),
        "peak_concurrent_calls": peak,
        "unanswered": unanswered,
        "sipp_failed": sum(1 for r in results if r.exit_code != 0),
        "calls_still_up": still_up,
        "agi_sessions_failed": agi_failed,
        "agi_sessions_completed": running.agi.completed,
        "cdr_rows": cdr_count,
        "wrong_cdrs": wrong_cdrs,
        "rate_per_s": rate,
    }


if __name__ == "__main__":
    asyncio.run(main())
