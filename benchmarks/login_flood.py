"""Event-loop stalls during a flood of wrong logins (the web app in-process).

The real aiohttp app with its SQLite database and the demo users; a client
sends wrong logins at ``--rate`` per second for ``--seconds`` from many
source addresses' worth of usernames, while a ticker measures how late the
event loop wakes it every 2 ms (what AMI events and screen-pops would wait).
``--inline`` checks passwords on the loop instead (how logins used to run),
for comparison.

Usage: python benchmarks/login_flood.py [--rate 20] [--seconds 5] [--inline]
Last line: {"logins", "statuses", "tick_p50_ms", "tick_p99_ms", "tick_max_ms", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
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


class NoAmi:
    generation = 1

    async def action(self, fields: dict[str, Any], **_: Any) -> dict[str, str]:
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


async def main(rate: float, seconds: float, inline: bool) -> dict[str, Any]:
    if inline:

        async def on_loop(func: Any, *args: Any) -> Any:  # the old way: on the loop
            return func(*args)

        login_guard.asyncio.to_thread = on_loop  # type: ignore[assignment]
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--inline", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main(args.rate, args.seconds, args.inline))
    print(json.dumps(result))
