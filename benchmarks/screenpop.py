"""Screen-pop latency with 1,000 agent WebSockets, and with one client stuck.

A scripted AMI server plays calls to the real CTI (AMI adapter, core, hub,
aiohttp); a separate client process holds one authenticated WebSocket per
agent. Latency = from the AgentCalled frame being written to the CTI's AMI
socket to the screen-pop frame arriving at the agent's WebSocket (one host,
one clock). Phase 2 repeats it while one supervisor socket has stopped
reading (it receives every call update, so its queue fills).

Each call rings its agent 0.5 s after it arrived (in real life the IVR takes
seconds, during which the customer record is looked up). The default rate,
50 calls/s, is about nine times the steady load of a 1,000-agent centre with
a 3-minute handle time; at 200 calls/s SQLite becomes the bottleneck and some
pops go out before their customer lookup (counted in the output).

Usage: python benchmarks/screenpop.py [--agents 1000] [--calls 2000] [--rate 50]
Last line: {"agents", "p50_ms", "p99_ms", "slow_client_p99_ms", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.config import Settings  # noqa: E402
from cti.server import Running, running_hotline  # noqa: E402
from tests.support.client_procs import start_client  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


class ScriptedAmi:
    """Accepts the CTI's login, answers its actions, and plays call events."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        self.connected.set()
        booted = False
        try:
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                aid, action = fields.get("ActionID", ""), fields.get("Action", "")
                if action in ("CoreShowChannels", "QueueStatus"):
                    writer.write(frame(Response="Success", ActionID=aid, EventList="start"))
                    writer.write(
                        frame(Event=f"{action}Complete", ActionID=aid, EventList="Complete")
                    )
                else:
                    writer.write(frame(Response="Success", ActionID=aid, Message="ok"))
                if not booted:
                    writer.write(frame(Event="FullyBooted", Status="Fully Booted"))
                    booted = True
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    def arrive(self, n: int) -> None:
        """A caller enters (the IVR and queue come before any agent is rung)."""
        assert self.writer is not None
        cid = f"1800000000.{n}"
        common = {"Uniqueid": cid, "Linkedid": cid}
        self.writer.write(
            frame(
                Event="Newchannel",
                Channel=f"PJSIP/trunk-{n:08x}",
                Context="from-pstn",
                CallerIDNum=f"1555{n:07d}",
                CallerIDName="Bench",
                **common,
            )
            + frame(Event="QueueCallerJoin", Queue="general", Position="1", **common)
        )

    def ring(self, n: int, agent: str) -> float:
        """AgentCalled for call ``n``; returns when it was written to the CTI."""
        assert self.writer is not None
        cid = f"1800000000.{n}"
        sent = time.time()
        self.writer.write(
            frame(
                Event="AgentCalled",
                Queue="general",
                MemberName=agent,
                Interface=f"PJSIP/agent{agent}",
                Uniqueid=cid,
                Linkedid=cid,
            )
        )
        return sent

    def hangup(self, n: int) -> None:
        assert self.writer is not None
        cid = f"1800000000.{n}"
        self.writer.write(frame(Event="Hangup", Uniqueid=cid, Linkedid=cid, **{"Cause-txt": "x"}))


CLIENT = r"""
import asyncio, json, sys, time
import aiohttp

async def main():
    cfg = json.loads(sys.stdin.readline())
    got = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        socks = []
        for token in cfg["tokens"]:
            ws = await http.ws_connect(cfg["url"], headers={"Authorization": "Bearer " + token},
                                       max_msg_size=0)
            socks.append(ws)
        stuck = []
        for token in cfg["stuck_tokens"]:
            stuck.append(await http.ws_connect(
                cfg["url"], headers={"Authorization": "Bearer " + token}))
        async def reader(ws):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if data["type"] == "screen.pop":
                    pop = data["data"]
                    got.append((pop["call_id"], time.time(), bool(pop.get("customer_pending"))))
        tasks = [asyncio.create_task(reader(ws)) for ws in socks]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for t in tasks:
            t.cancel()
    print(json.dumps(got), flush=True)

asyncio.run(main())
"""


async def phase(
    ami: ScriptedAmi,
    agents: list[str],
    calls: int,
    start: int,
    rate: float,
    stuck: int,
    url: str,
    running: Running,
    stats: dict[str, int],
) -> list[float]:
    tokens = [running.sessions.open(a, "agent", time.time()).token for a in agents]
    stuck_tokens = [
        running.sessions.open("supervisor", "supervisor", time.time()).token for _ in range(stuck)
    ]
    proc = await start_client(CLIENT, {"url": url, "tokens": tokens, "stuck_tokens": stuck_tokens})
    assert proc.stdin and proc.stdout
    async with asyncio.timeout(120):
        assert (await proc.stdout.readline()).strip() == b"ready"
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    lag = max(1, int(rate * 0.5))  # a call is rung 0.5 s after it arrived, hung up 0.5 s later
    t_next = time.perf_counter()
    for i in range(calls + 2 * lag):
        if i < calls:
            ami.arrive(start + i)
        if 0 <= i - lag < calls:
            n = start + i - lag
            sent[f"1800000000.{n}"] = ami.ring(n, agents[(i - lag) % len(agents)])
        if 0 <= i - 2 * lag < calls:
            ami.hangup(start + i - 2 * lag)
        t_next += interval
        delay = t_next - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await running.hotline.drain()
    await asyncio.sleep(0.5)  # let the last frames cross the client's socket
    proc.stdin.write(b"stop\n")
    await proc.stdin.drain()
    async with asyncio.timeout(60):
        got = json.loads((await proc.stdout.readline()).decode())
    await proc.wait()
    first: dict[str, tuple[float, bool]] = {}
    for cid, t, pending in got:
        if cid in sent and cid not in first:
            first[cid] = (t, pending)
    if len(first) != calls:
        raise SystemExit(f"only {len(first)} of {calls} screen-pops arrived")
    stats["customer_pending"] += sum(pending for _, pending in first.values())
    return [(t - sent[cid]) * 1000 for cid, (t, _) in first.items()]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second")
    args = parser.parse_args()
    ami = ScriptedAmi()
    server = await asyncio.start_server(ami.serve, "127.0.0.1", 0)
    ami_port = server.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            ami_port=ami_port,
            ami_secret=SecretStr("bench"),
            agi_port=free_port(),
            web_port=free_port(),
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            recordings_dir=Path(tmp) / "rec",
            asterisk_cdr_file=Path(tmp) / "none.json",
            ami_ping_interval_s=60,
        )
        async with running_hotline(settings) as running:
            agents = [f"{9000 + i}" for i in range(args.agents)]
            for agent in agents:
                running.hotline.core.register_agent(agent, f"PJSIP/agent{agent}", ["general"])
                running.hotline.desk.login(agent)
                running.hotline.desk.ready(agent)
            url = running.web_url.replace("http", "ws") + "/ws"
            stats = {"customer_pending": 0}
            normal = await phase(ami, agents, args.calls, 0, args.rate, 0, url, running, stats)
            slow = await phase(
                ami, agents, args.calls, args.calls, args.rate, 1, url, running, stats
            )
    server.close()
    result = {
        "agents": args.agents,
        "calls": args.calls,
        "rate_per_s": args.rate,
        "p50_ms": round(statistics.median(normal), 3),
        "p99_ms": round(pct(normal, 99), 3),
        "max_ms": round(max(normal), 3),
        "slow_client_p50_ms": round(statistics.median(slow), 3),
        "slow_client_p99_ms": round(pct(slow, 99), 3),
        "pops_before_customer_lookup": stats["customer_pending"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
