"""Event-loop stalls, and screen-pop latency on the real PBX, during a flood of wrong logins.

Default mode (the web app in-process): the real aiohttp app with its SQLite
database and the demo users; a client sends wrong logins at ``--rate`` per
second for ``--seconds`` from many source addresses' worth of usernames,
while a ticker measures how late the event loop wakes it every 2 ms (what
AMI events and screen-pops would wait).
``--inline`` checks passwords on the loop instead (how logins used to run),
for comparison.

``--pbx`` (root, under the PBX lock: starts the project's Asterisk as the
integration tests do): the scenario of the fault test
tests/integration/test_faults_login_flood.py with ``--calls`` calls per
phase. ``hotline serve`` as its own process, agents 1001 and 1002 ready with
sipp phones and WebSockets; real SIP calls through the IVR to the billing
queue, first without a flood, then while flooder processes send wrong logins
at ``--rate`` per second from ``--addresses`` source addresses 127.0.0.x.
Screen-pop latency: Asterisk's DialBegin to the agent's phone (its Timestamp,
on an AMI connection of the benchmark's own) to the pop frame arriving on the
agent's WebSocket. During the flood the supervisor logs in once with the right
password from 127.0.0.1.

Usage: python benchmarks/login_flood.py [--rate 20] [--seconds 5] [--inline]
       python benchmarks/login_flood.py --pbx [--calls 30] [--rate 40] [--addresses 20]
Last line: {"logins", "statuses", "tick_p50_ms", "tick_p99_ms", "tick_max_ms", ...}
       (--pbx: {"quiet_p50_ms", "quiet_p99_ms", "flood_p50_ms", "flood_p99_ms",
       "p99_ratio", "flood_statuses", "checked_per_s", "right_password_status", ...})
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.auth import SessionStore  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.db.repository import Repository, create_schema, make_engine  # noqa: E402
from cti.demo import DemoSecrets, seed_demo  # noqa: E402
from cti.service import Hotline  # noqa: E402
from cti.web import login_guard  # noqa: E402
from cti.web.app import build_app  # noqa: E402
from cti.web.hub import Hub  # noqa: E402
from tests.support.login_flood import calls_with_and_without_flood  # noqa: E402
from tests.support.pbx_fixture import Pbx, free_udp_port, site_files  # noqa: E402
from tests.support.pbx_load import asterisk, scratch_settings, seed_database  # noqa: E402


class NoAmi:
    generation = 1

    async def action(self, fields: dict[str, Any], **_: Any) -> dict[str, str]:
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


async def main(rate: float, seconds: float, inline: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp}/hotline.db",
            recordings_dir=Path(tmp) / "recordings",
            login_failures_per_user=10**6,
            login_failures_per_address=10**6,
            login_max_waiting=10**6,
        )
        engine = make_engine(settings.effective_database_url)
        await create_schema(engine)
        await seed_demo(Repository(engine), DemoSecrets.generate("bench-password"))
        hotline = Hotline(settings, Repository(engine), NoAmi(), Hub())  # type: ignore[arg-type]
        await hotline.load_agents()
        app = build_app(hotline.desk, SessionStore(3600), hotline.supervision, hotline.qa)
        if inline:

            async def on_loop(rank: int, func: Any, *args: Any) -> Any:  # the old way
                return func(*args)

            app[login_guard.LOGIN_GUARD].checks.run = on_loop  # type: ignore[method-assign]
        client = TestClient(TestServer(app))
        await client.start_server()
        lags: list[float] = []
        statuses: collections.Counter[int] = collections.Counter()
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.002)
                lags.append((time.perf_counter() - before - 0.002) * 1000)

        async def one(i: int) -> None:
            user = "1001" if i % 2 else f"nobody{i}"
            async with client.post(
                "/api/login", json={"username": user, "password": "wrong"}
            ) as response:
                statuses[response.status] += 1

        tick = asyncio.create_task(ticker())
        sent: list[asyncio.Task[None]] = []
        count = int(rate * seconds)
        started = time.perf_counter()
        for i in range(count):
            sent.append(asyncio.create_task(one(i)))
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        await asyncio.gather(*sent)
        done.set()
        await tick
        await client.close()
        await engine.dispose()
    quantiles = statistics.quantiles(lags, n=100)
    return {
        "mode": "inline" if inline else "off-loop",
        "logins": count,
        "statuses": dict(statuses),
        "tick_p50_ms": round(quantiles[49], 2),
        "tick_p99_ms": round(quantiles[98], 2),
        "tick_max_ms": round(max(lags), 2),
    }


async def on_pbx(calls: int, rate: float, addresses: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = scratch_settings(
            base,
            trunk_host=f"127.0.0.1:{free_udp_port()}",
            ami_ping_interval_s=1.0,
            ami_ping_timeout_s=2.0,
        )
        demo = DemoSecrets.generate(secrets.token_urlsafe(12))
        await seed_database(settings, demo)
        async with (
            asterisk(settings, extra_files=site_files(settings)),
            await Pbx(settings).ami(events="call") as ami,
        ):
            run = await calls_with_and_without_flood(
                settings,
                ami,
                demo,
                base / "serve.log",
                agents=("1001", "1002"),
                calls=calls,
                gap_s=0.7,
                rate=rate,
                addresses=addresses,
                usernames=("1001", "1002", "1003", "1004", "supervisor", "qa")
                + tuple(f"ghost{n}" for n in range(6)),
            )
    return {"mode": "pbx", "calls_per_phase": calls, "flood_rate": rate, **run.figures()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=None, help="wrong logins per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--pbx", action="store_true", help="real calls on the real Asterisk")
    parser.add_argument("--calls", type=int, default=30, help="--pbx: calls per phase")
    parser.add_argument("--addresses", type=int, default=20, help="--pbx: flood sources")
    args = parser.parse_args()
    if args.pbx:
        result = asyncio.run(on_pbx(args.calls, args.rate or 40.0, args.addresses))
    else:
        result = asyncio.run(main(args.rate or 20.0, args.seconds, args.inline))
    print(json.dumps(result))
