"""Report and wallboard speed.

1. Reports: ``--cdrs`` CDRs (default 1,000,000) over ``--days`` days in 4
   queues answered by 40 agents, and their agent state log, are written to a
   SQLite file and to PostgreSQL (a throw-away cluster of Debian's server the
   benchmark starts and deletes itself, or ``--postgres-url``); then the
   day-by-interval-by-queue report (15-min intervals of one day, every queue)
   and the per-agent report of that day are timed, the way the report API
   computes them (read the day's calls and state log, then the pure core).
2. Wallboard: the real CTI web app (core, hub, aiohttp) with ``--sockets``
   supervisor WebSockets (default 200) while calls are played into the core
   at ``--rate`` calls/s (default 100) for ``--seconds``; latency = from the
   moment an event is applied to the core to the first wallboard frame
   (``wallboard.update`` or ``wallboard.delta``) built after it arriving at
   each socket (one host, one clock); the sockets are opened as the wallboard
   page opens them (``/ws?feed=wallboard``).

Usage: python benchmarks/reports.py [--cdrs 1000000] [--days 30] [--sockets 200] [--rate 100]
       [--seconds 10] [--postgres-url URL] [--no-reports | --no-wallboard]
(``--no-reports``: the wallboard part alone; the report keys are then absent.
``--no-wallboard``: the reports alone; ``wallboard_p99_ms`` is then null)
Last line: {"cdrs", "sqlite_report_ms", "postgres_report_ms", "wallboard_p99_ms", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import re
import statistics
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from cti.auth import SessionStore  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.db.models import AgentStateRecord, CallRecord, User  # noqa: E402
from cti.db.repository import Repository, create_schema, make_engine  # noqa: E402
from cti.domain import events as ev  # noqa: E402
from cti.heap import settle_heap  # noqa: E402
from cti.kpi.calendar import Calendar  # noqa: E402
from cti.kpi.options import KpiOptions  # noqa: E402
from cti.kpi.report import (  # noqa: E402
    call_report,
    lookahead_s,
    session_report,
)
from cti.service import Hotline  # noqa: E402
from cti.wallboard.store import WallboardStore  # noqa: E402
from cti.web.app import build_app  # noqa: E402
from cti.web.hub import Hub, HubLimits  # noqa: E402
from tests.support.pg_cluster import start_postgres, stop_postgres  # noqa: E402

QUEUES = ("general", "billing", "technical", "account")
AGENTS = [f"{2000 + i}" for i in range(40)]
START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
AT = re.compile(r'\{"v": 1, "type": "wallboard\.(?:update|delta)", "data": \{"at": ([0-9.]+)')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


# ------------------------------------------------------------------ reports
def generate(cdrs: int, days: int, rng: random.Random) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    calls: list[dict[str, Any]] = []
    per_day = cdrs // days
    for day in range(days):
        base = START + day * 86400 + 8 * 3600
        for n in range(per_day):
            queued = base + rng.uniform(0, 10 * 3600)
            wait = rng.expovariate(1 / 20)
            answered = rng.random() < 0.9
            talk = rng.uniform(30, 400) if answered else 0.0
            end = queued + wait + talk
            calls.append(
                {
                    "call_id": f"d{day}-{n}",
                    "caller_number": f"1555{rng.randrange(10**6):06d}",
                    "caller_name": "",
                    "ivr_path": "",
                    "queue": rng.choice(QUEUES),
                    "agent_id": rng.choice(AGENTS) if answered else None,
                    "entered_at": datetime.fromtimestamp(queued - 10, UTC),
                    "queued_at": datetime.fromtimestamp(queued, UTC),
                    "answered_at": datetime.fromtimestamp(queued + wait, UTC) if answered else None,
                    "ended_at": datetime.fromtimestamp(end, UTC),
                    "wait_s": round(wait, 3),
                    "talk_s": round(talk, 3),
                    "disposition": "answered" if answered else "abandoned",
                    "agent_notes": "",
                    "recovered": False,
                    "verified": False,
                    "agent_disposition": rng.choice(("resolved", "follow_up", None)),
                    "survey_score": rng.choice((None, None, 3, 4, 5)),
                }
            )
    log: list[dict[str, Any]] = []
    for day in range(days):
        for agent in AGENTS:
            t = START + day * 86400 + 8 * 3600 + rng.uniform(0, 600)
            log.append({"agent_id": agent, "state": "paused", "reason": "login", "at": t})
            while t < START + day * 86400 + 18 * 3600:
                for state, reason, span in (
                    ("ready", "", rng.uniform(5, 60)),
                    ("ringing", "", rng.uniform(2, 8)),
                    ("talking", "", rng.uniform(30, 400)),
                    ("wrap_up", "wrap-up", 20.0),
                ):
                    t += span
                    log.append({"agent_id": agent, "state": state, "reason": reason, "at": t})
            log.append({"agent_id": agent, "state": "logged_out", "reason": "", "at": t + 1})
    return calls, log


async def fill(url: str, calls: list[dict], log: list[dict]) -> Any:  # type: ignore[type-arg]
    engine = make_engine(url)
    await create_schema(engine)
    async with engine.begin() as conn:
        for i in range(0, len(calls), 20_000):
            await conn.execute(insert(CallRecord), calls[i : i + 20_000])
        for i in range(0, len(log), 20_000):
            await conn.execute(insert(AgentStateRecord), log[i : i + 20_000])
    if engine.dialect.name == "postgresql":
        # the planner's statistics, as autovacuum keeps them after a bulk load
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    return engine


async def time_reports(engine: Any, day: float, options: KpiOptions) -> dict[str, float]:
    store = WallboardStore(engine)
    calendar = Calendar("UTC")
    end = day + 86400
    started = time.perf_counter()
    book = await store.book(options, day, end, end + lookahead_s(options))
    rows = [
        call_report(book, day, end, "interval", calendar, interval_s=900, queue=q) for q in QUEUES
    ]
    intervals_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    book = await store.book(options, day, end, end + lookahead_s(options))
    agents = call_report(book, day, end, "agent", calendar)
    initial, changes = await store.session_log(day, end)
    sessions = session_report(initial, changes, day, end)
    agents_ms = (time.perf_counter() - started) * 1000
    assert sum(len(r) for r in rows) > 0 and agents and sessions
    return {"intervals_by_queue_ms": round(intervals_ms, 1), "agents_ms": round(agents_ms, 1)}


# ------------------------------------------------------------------ wallboard
class StubAmi:
    generation = 1

    async def action(self, fields: dict[str, Any], **_: Any) -> Any:
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


async def wallboard_latency(tmp: Path, sockets: int, rate: float, seconds: float) -> list[float]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'wallboard.db'}",
        recordings_dir=tmp / "recordings",
        routing_mode="queue",
    )
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    repository = Repository(engine)
    from cti.auth import hash_password

    agents = [f"{3000 + i}" for i in range(400)]
    await repository.upsert_users(
        [User(username="boss", password_hash=hash_password("pw"), role="supervisor", queues="")]
        + [
            User(username=a, password_hash="x", role="agent", queues=",".join(QUEUES))
            for a in agents
        ]
    )
    # one supervisor login holds all the sockets (the per-session cap is for people)
    hub = Hub(HubLimits(sockets_per_session=sockets))
    hotline = Hotline(settings, repository, StubAmi(), hub, clock=time.time)  # type: ignore[arg-type]
    await hotline.load_agents()
    service = asyncio.create_task(hotline.run(follow_ami=False))
    await hotline.started.wait()
    for agent in agents:
        hotline.desk.login(agent)
        hotline.desk.ready(agent)
    runner = web.AppRunner(
        build_app(hotline.desk, SessionStore(3600), hotline.supervision, hotline.qa)
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settle_heap()  # the collector set as `hotline serve` sets it once it is up
    base = f"http://127.0.0.1:{port}"
    applied: list[float] = []  # time each event batch was applied
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/login", json={"username": "boss", "password": "pw"}) as r:
            token = (await r.json())["token"]
        # the supervisors' sockets live in another process (the CTI's loop is not theirs)
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            base,
            token,
            str(sockets),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert client.stdout is not None and client.stdin is not None
        await client.stdout.readline()  # "connected"

        def play(*events: ev.DomainEvent) -> None:
            applied.append(time.time())
            for event in events:
                hotline.carry_out(hotline.core.apply(event))

        loop = asyncio.get_running_loop()
        free = list(agents)
        rng = random.Random(3)
        total = int(rate * seconds)
        started = loop.time()
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - loop.time()))
            now = time.time()
            call_id, queue = f"w{n}", rng.choice(QUEUES)
            play(
                ev.CallStarted(call_id, f"PJSIP/trunk-{n}", "15550100001", "", now),
                ev.CallQueued(call_id, queue, 1, now),
            )
            agent = free.pop(0)

            def answer(call_id: str = call_id, agent: str = agent, queue: str = queue) -> None:
                t = time.time()
                play(
                    ev.AgentRang(call_id, agent, queue, t),
                    ev.CallAnswered(call_id, agent, queue, t),
                )
                loop.call_later(1.5, end, call_id, agent)

            def end(call_id: str, agent: str) -> None:
                t = time.time()
                play(ev.AgentCallCompleted(call_id, agent, t), ev.CallEnded(call_id, t, "Normal"))
                free.append(agent)

            loop.call_later(0.3, answer)
        await asyncio.sleep(2.5)
        client.stdin.write(b"stop\n")
        await client.stdin.drain()
        arrivals = json.loads(await client.stdout.read())
        await client.wait()
    await runner.cleanup()
    hotline.stop()
    await service
    await engine.dispose()
    latencies: list[float] = []
    for frames in arrivals:
        frames.sort()
        j = 0
        for t in sorted(applied):
            while j < len(frames) and frames[j][0] < t:
                j += 1
            if j < len(frames):
                latencies.append((frames[j][1] - t) * 1000)
    return latencies


async def client_process(base: str, token: str, sockets: int) -> None:
    """Hold ``sockets`` supervisor sockets; print (frame built, frame arrived) per socket."""
    # per socket: frame built, frame arrived, ... (flat doubles: nothing for the
    # collector to walk, however many frames come)
    arrivals = [array("d") for _ in range(sockets)]

    sizes: list[int] = []

    async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        times = arrivals[i]
        async for msg in ws:
            # the frame's first field is the time it was built: no need to parse it all
            head = AT.match(msg.data)
            if head is not None:
                times.append(float(head.group(1)))
                times.append(time.time())
                if i == 0:
                    sizes.append(len(msg.data))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{base}/ws?feed=wallboard"  # as the wallboard page opens it
        conns = [await http.ws_connect(url, headers=headers) for _ in range(sockets)]
        readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
        # this measuring process makes no reference cycles from here on: its
        # collector's passes would only delay its own reading (not the server's)
        gc.freeze()
        gc.disable()
        print("connected", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for ws in conns:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    print(f"frame size: {statistics.median(sizes or [0]):.0f} bytes", file=sys.stderr)
    pairs = [list(zip(times[::2], times[1::2], strict=True)) for times in arrivals]
    print(json.dumps(pairs), flush=True)


async def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        await client_process(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--no-reports", action="store_true", help="time the wallboard only")
    parts.add_argument("--no-wallboard", action="store_true", help="time the reports only")
    args = parser.parse_args()
    rng = random.Random(1)
    options = KpiOptions()
    day = START + (args.days // 2) * 86400
    if args.no_reports:
        with tempfile.TemporaryDirectory() as tmp_name:
            latencies = await wallboard_latency(
                Path(tmp_name), args.sockets, args.rate, args.seconds
            )
        print(json.dumps(wallboard_result(args, latencies)))
        return
    result: dict[str, Any] = {"cdrs": args.cdrs, "days": args.days}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        calls, log = generate(args.cdrs, args.days, rng)
        engine = await fill(f"sqlite+aiosqlite:///{tmp / 'reports.db'}", calls, log)
        print(
            f"generated and stored {len(calls)} CDRs, {len(log)} state rows "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        server = None if args.postgres_url else start_postgres()
        try:
            url = args.postgres_url or server.create_database()  # type: ignore[union-attr]
            started = time.perf_counter()
            pg_engine = await fill(url, calls, log)
            print(f"stored in PostgreSQL in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            # the reports are timed in a process holding what a server holds, not
            # the generator's million rows (they would lengthen every collection),
            # with the collector set as `hotline serve` sets it once it is up
            del calls, log
            settle_heap()
            sqlite = await time_reports(engine, day, options)
            await engine.dispose()
            print(f"SQLite: {sqlite}", file=sys.stderr)
            postgres = await time_reports(pg_engine, day, options)
            await pg_engine.dispose()
        finally:
            if server is not None:
                stop_postgres(server)
        print(f"PostgreSQL: {postgres}", file=sys.stderr)
        result["sqlite"] = sqlite
        result["sqlite_report_ms"] = max(sqlite.values())
        result["postgres"] = postgres
        result["postgres_report_ms"] = max(postgres.values())
        if args.no_wallboard:
            print(json.dumps(result | {"wallboard_p99_ms": None}))
            return
        latencies = await wallboard_latency(tmp, args.sockets, args.rate, args.seconds)
    result |= wallboard_result(args, latencies)
    print(json.dumps(result))


def wallboard_result(args: argparse.Namespace, latencies: list[float]) -> dict[str, Any]:
    return {
        "sockets": args.sockets,
        "rate_per_s": args.rate,
        "wallboard_frames": len(latencies),
        "wallboard_p50_ms": round(statistics.median(latencies), 1),
        "wallboard_p99_ms": round(pct(latencies, 99), 1),
    }


if __name__ == "__main__":
    asyncio.run(main())
