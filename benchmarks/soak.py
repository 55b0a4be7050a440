"""Soak: real SIP calls through the IVR, the router and agents' screen-pops for minutes.

Starts the project's Asterisk (as the integration tests do: random AMI
secret, free ports, a scratch run directory), seeds a database (the demo's
agents 1001-1004, supervisor and customers, plus agents up to 1010), and runs
``hotline serve`` as its own process, so that its memory is the CTI's alone.
Then, for ``--minutes``:

* ONE sipp UAC (tests.support.sipp.CallerLoad) places calls at ``--rate`` per
  second, each from its own number: the caller picks a language and a menu
  choice by DTMF (SIP INFO) in the FastAGI IVR, waits for an agent and stays on
  the line ``--hold-s`` after its last digit (or until the agent hangs up);
* every agent has a sipp phone (tests.support.sipp.AgentPhone, UAS) on its
  static contact, answering after ``--answer-s`` and hanging up after
  ``--talk-s``; the CTI's router offers the waiting calls to the ready agents;
* ``--client-procs`` client processes (4) hold ``--agent-sockets`` WebSockets
  per agent (one session each) and ``--supervisor-sockets`` for the supervisor
  (one session): 1,000 by default, shared out between them (one process reading
  1,000 sockets on a loaded 2-core machine answered the server's pings late).
  A socket the server drops reconnects, as the agent page does; the ``hello``
  after a reconnect carries the ringing call, and counts as that socket's pop.
  The benchmark raises the per-user limits to allow this
  (``web_sessions_per_user``, ``web_sockets_per_session``; 8 and 4 by default);
* an AMI connection of its own notes every offer (DialBegin to an agent's
  phone) and every call up in Asterisk (channels whose Uniqueid is their
  Linkedid), for the peak.

At the end (every call ended in Asterisk, then in the CTI's view: ``cti_catch_up_s``
is how long the CTI took to catch up; then SIGTERM, so the CTI drains its CDR
writer):

* ``calls``: calls placed; ``answered_by_ivr``: answered by Asterisk;
* ``cdrs_missing`` / ``cdrs_duplicated``: callers answered by Asterisk with no
  CDR row / with more than one (rows are told apart by caller number);
* ``recordings_missing``: CDRs answered by an agent whose mixed recording or
  either per-party file is not on disk, or holds no audio (a bare 44-byte WAV
  header) although the CDR's talk lasted 1 s or more;
  ``recordings_empty_short_bridge``: those with a file holding no audio after
  a talk under 1 s: the caller hung up in the very moment the agent answered,
  the bridge lasted milliseconds and MixMonitor (option b: only while bridged)
  read no frame of it. That is the call's truth (Asterisk's Dial did answer),
  not a lost recording: each is printed with its files' sizes and the CDR's
  answered/ended times and talk;
* ``pops_missing``: offers (call, agent) for which some socket of that agent
  got no ``screen.pop`` of that call; ``pop_frames_missing`` counts sockets;
* ``rss_growth_mb``: the CTI's resident memory at the end minus at the start
  (after the sockets were connected, before the first call), from /proc;
* ``peak_concurrent``: most calls up in Asterisk at once (AMI view);
  ``peak_concurrent_callers``: the same from sipp's log;
* ``cti_loop_stalls`` / ``cti_loop_worst_late_s``: ticks of the CTI's event
  loop later than 1 s, and the latest (its log: ``loop_stall_warn_s``, with
  the loop thread's stack at each stall);
* ``cti_main_thread_cpu_s`` / ``cti_runnable_waiting_s``: CPU time of the
  CTI's loop thread, and the time it was runnable but waiting for a CPU
  (/proc schedstat): more waiting than running means the loop is starved by
  the other processes, not busy with work of its own.

sipp runs at a lower priority (--sipp-nice), as in benchmarks/ivr_load.py.

Measured (defaults: 10 minutes, 5 calls/s, 55 s on the line, 10 agents, 1,000
sockets in 4 client processes) on a 2-core machine that the soak saturates by
itself (Asterisk, sipp, the socket clients; load average 60-70): 3,000 calls
placed, all answered by Asterisk, peak 318 calls up at once (sipp) / 340 (AMI);
CDRs missing 0, duplicated 0; recordings missing 0, and 5 calls answered in the
very moment their caller hung up (talk 7 to 452 ms, all three files a bare
header: the bridge ended before MixMonitor read a frame of it; a 60-call sipp
sweep of callers hanging up around the agent's answer gave the same below
80 ms); 1,310 offers, 1,287 answered by the agents' phones, 3 offers with no
pop; CTI RSS +38 MB (117 -> 155 MB). The CTI used 76 s of CPU in 11 minutes
while its loop thread waited 543 s runnable for a CPU: its 135 ticks over 1 s
late (worst 5.5 s) are starvation by the other processes, not work of its own
(most stacks logged at the stalls are in a socket send()). Running the socket
clients at nice 10 did not change that (3 minutes: 36 s of CPU, 166 s waiting).
Starved so, a pop's database lookup (1 ms on SQLite with 3,000 CDRs when the
loop is free) holds its turn for several late loop turns: 1,625 callers' last
calls were given up after 10 s in line (the customer row is still looked up for
every call). The run before an agent's frames were batched like the
supervisors' and before a caller hanging up during the ring stopped pausing
the agent (RONA): 842 answers by the agents' phones (each such hang-up paused
an agent for the rest of the run), 86 s of CPU, 142 stalls up to 4.5 s, one
short bridge counted as a missing recording.

Usage (root, under the PBX lock):
    python benchmarks/soak.py [--minutes 10] [--rate 5] [--hold-s 55]
Last line: {"calls", "cdrs_missing", "cdrs_duplicated", "recordings_missing",
"pops_missing", "rss_growth_mb", "peak_concurrent", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import aiohttp
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.auth import hash_password  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.db.models import User  # noqa: E402
from cti.demo import DEMO_AGENTS, DemoSecrets  # noqa: E402
from tests.support import pbx_load  # noqa: E402
from tests.support.client_procs import start_client  # noqa: E402
from tests.support.sipp import AgentPhone, agent_port  # noqa: E402

#: digits a caller presses (language, menu): English/Mandarin x billing/technical
CHOICES = ("11", "12", "21", "22")
EXTRA_SKILLS = "lang.zh:5,lang.en:5,billing:4,technical:4,security:3"
EXTRA_QUEUES = "general,billing,technical,account"

CLIENT = r"""
import asyncio, json, sys, time
from collections import defaultdict
import aiohttp

async def main():
    cfg = json.loads(sys.stdin.readline())
    pops = defaultdict(lambda: defaultdict(set))  # agent -> call id -> slots that got its pop
    frames = 0
    closed = []  # [who, close code, seconds since start]: sockets the server closed
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def connect(token):
            while True:  # a reconnect may find the old socket not yet released: retry
                try:
                    return await http.ws_connect(
                        cfg["url"], headers={"Authorization": "Bearer " + token},
                        max_msg_size=0, heartbeat=None)
                except aiohttp.ClientError:
                    await asyncio.sleep(0.5)

        async def slot(who, token, name, ws):
            # as the agent page does: read every frame; when the server drops the
            # socket, reconnect; the hello after a reconnect carries the ringing call
            nonlocal frames
            while True:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    frames += 1
                    if '"screen.pop"' in msg.data:  # parse only pops and hellos
                        data = json.loads(msg.data)
                        if data["type"] == "screen.pop":
                            pops[who][data["data"]["call_id"]].add(name)
                    elif '"hello"' in msg.data:
                        data = json.loads(msg.data)
                        call = data["data"].get("call") if data["type"] == "hello" else None
                        if call:
                            pops[who][call["call_id"]].add(name)
                closed.append([who, ws.close_code, round(time.monotonic() - started, 1)])
                await asyncio.sleep(0.5)
                ws = await connect(token)

        socks = []
        for who, token, first, count in cfg["sessions"]:
            for n in range(first, first + count):
                socks.append((who, token, n, await connect(token)))
        tasks = [asyncio.create_task(slot(*s)) for s in socks]
        print("ready", len(socks), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for t in tasks:
            t.cancel()
    counts = {who: {call: len(got) for call, got in calls.items()} for who, calls in pops.items()}
    print(json.dumps({"pops": counts, "frames": frames, "closed": closed}), flush=True)

asyncio.run(main())
"""


async def start_clients(
    url: str, sessions: list[tuple[str, str, int]], procs: int
) -> list[asyncio.subprocess.Process]:
    """The socket clients: each session's sockets shared out over ``procs`` processes
    (one process reading 1,000 sockets on a loaded machine answers pings late)."""
    clients = []
    for p in range(procs):
        share = []
        for who, token, count in sessions:
            first = count * p // procs
            share.append((who, token, first, count * (p + 1) // procs - first))
        clients.append(await start_client(CLIENT, {"url": url, "sessions": share}))
    return clients


async def stop_clients(clients: list[asyncio.subprocess.Process]) -> dict[str, Any]:
    """Stop the socket clients; their reports merged (pops summed per agent and call)."""
    pops: dict[str, Counter[str]] = {}
    frames, closed = 0, []
    for client in clients:
        assert client.stdin and client.stdout
        client.stdin.write(b"stop\n")
        await client.stdin.drain()
    for client in clients:
        assert client.stdout
        async with asyncio.timeout(120):
            report = json.loads((await client.stdout.readline()).decode())
        await client.wait()
        for who, calls in report["pops"].items():
            pops.setdefault(who, Counter()).update(calls)
        frames += report["frames"]
        closed += report["closed"]
    return {"pops": pops, "frames": frames, "closed": closed}


def loop_stalls(log: Path) -> list[float]:
    """How late each stalled tick of the CTI's event loop ran (its log), seconds."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return [float(m) for m in re.findall(r"event loop stall: a tick ran ([0-9.]+) s late", text)]


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cti_problems(log: Path) -> list[str]:
    """The CTI's warnings and errors, for stderr."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if " WARNING " in line or " ERROR " in line]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class AmiWatch:
    """Its own AMI login: offers to agents (DialBegin) and calls up in Asterisk."""

    def __init__(self) -> None:
        self.offers: set[tuple[str, str]] = set()  # (linkedid, agent)
        self.up: set[str] = set()
        self.peak = 0
        self.idle = asyncio.Event()  # no call up (after the first)
        self._task: asyncio.Task[None] | None = None

    async def start(self, settings: Settings) -> None:
        reader, writer = await asyncio.open_connection(settings.ami_host, settings.ami_port)
        await reader.readline()
        secret = settings.ami_secret.get_secret_value()
        writer.write(
            f"Action: Login\r\nUsername: {settings.ami_user}\r\nSecret: {secret}\r\n"
            "Events: call\r\n\r\n".encode()
        )
        reply = (await reader.readuntil(b"\r\n\r\n")).decode()
        if "Success" not in reply:
            raise RuntimeError(f"AMI login refused: {reply}")
        self._writer = writer
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode("utf-8", "replace")
                fields: dict[str, str] = {}
                for line in block.split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if sep and key not in fields:  # the first: the caller's side
                        fields[key] = value
                event = fields.get("Event")
                uid, linked = fields.get("Uniqueid"), fields.get("Linkedid")
                if event == "Newchannel" and uid and uid == linked:
                    self.up.add(uid)
                    self.idle.clear()
                    self.peak = max(self.peak, len(self.up))
                elif event == "Hangup" and uid in self.up:
                    self.up.discard(uid)
                    if not self.up:
                        self.idle.set()
                elif event == "DialBegin" and linked:
                    dest = fields.get("DestChannel", "")
                    if dest.startswith("PJSIP/agent"):
                        agent = dest.removeprefix("PJSIP/agent").split("-", 1)[0]
                        self.offers.add((linked, agent))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._writer.close()


def extra_agents(demo: DemoSecrets, agents: list[str]) -> list[User]:
    """The agents beyond the demo's (1005...), with the demo agents' password."""
    password_hash = hash_password(demo.agent_password)
    return [
        User(
            username=agent,
            display_name=f"Soak {agent}",
            password_hash=password_hash,
            role="agent",
            interface=f"PJSIP/agent{agent}",
            queues=EXTRA_QUEUES,
            skills=EXTRA_SKILLS,
            wrap_up_s=0.0,
        )
        for agent in agents
        if agent not in DEMO_AGENTS
    ]


def cti_environment(settings: Settings, fields: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    for name in fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"HOTLINE_{name.upper()}"] = str(value)
    return env


def log_file(path: Path) -> IO[bytes]:
    return path.open("wb")


@contextlib.asynccontextmanager
async def cti_process(settings: Settings, fields: list[str], cti_log: Path) -> AsyncIterator[int]:
    """``hotline serve`` as a process of its own; SIGTERM (a clean stop) on exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "serve",
        env=cti_environment(settings, fields),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log_file(cti_log),
    )
    try:
        async with asyncio.timeout(60):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"hotline serve exited with {proc.returncode}")
                with contextlib.suppress(OSError):
                    _, w = await asyncio.open_connection(settings.web_host, settings.web_port)
                    w.close()
                    break
                await asyncio.sleep(0.2)
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(60):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
                print("hotline serve did not stop within 60 s of SIGTERM", file=sys.stderr)


async def login(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    for _ in range(50):  # the login hashes one password at a time: 503 busy is retried
        async with http.post(
            f"{base}/api/login", json={"username": user, "password": password}
        ) as r:
            if r.status == 200:
                return str((await r.json())["token"])
            if r.status not in (429, 503):
                raise RuntimeError(f"login {user}: {r.status} {await r.text()}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"login {user}: busy")


async def ready(http: aiohttp.ClientSession, base: str, token: str) -> None:
    async with http.post(
        f"{base}/api/agent/state",
        json={"state": "ready"},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        if r.status != 200:
            raise RuntimeError(f"agent ready: {r.status} {await r.text()}")


async def cti_caught_up(http: aiohttp.ClientSession, base: str, token: str) -> float:
    """Wait until the CTI has no call left (it has read every Hangup); seconds waited."""
    started = time.monotonic()
    async with asyncio.timeout(600):
        while True:
            async with http.get(
                f"{base}/api/calls", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                if r.status == 200 and not await r.json():
                    return time.monotonic() - started
            await asyncio.sleep(0.5)


def count_cdrs(database: Path) -> list[tuple[Any, ...]]:
    """(caller_number, disposition, agent_id, recording_path, answered_at, ended_at, talk_s)."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT caller_number, disposition, agent_id, recording_path,"
            " answered_at, ended_at, talk_s FROM cdr"
        )
        return [tuple(row) for row in rows]


#: size of a WAV file's header: a file no bigger holds no audio
WAV_HEADER = 44
#: a talk shorter than this may leave a party's file without audio (recording_verdict)
SHORT_BRIDGE_S = 1.0


def recording_files(path: str | None) -> dict[str, int | None]:
    """Sizes of a call's three recording files (mixed, caller, agent); None: absent."""
    if not path:
        return {"mixed": None, "caller": None, "agent": None}
    mixed = Path(path)
    stem = mixed.with_suffix("")
    files = {
        "mixed": mixed,
        "caller": Path(f"{stem}-caller.wav"),
        "agent": Path(f"{stem}-agent.wav"),
    }
    return {name: f.stat().st_size if f.is_file() else None for name, f in files.items()}


def recording_verdict(sizes: dict[str, int | None], talk_s: float) -> str:
    """``ok``; ``missing``: a file absent, or empty after a talk of 1 s or more;
    ``empty_short_bridge``: a file empty, the talk shorter than 1 s.

    MixMonitor (option b) writes frames only while the caller is bridged: when
    the caller hangs up in the very moment the agent answers, the bridge lasts
    milliseconds and the files may be bare headers (seen after talks of up to
    0.45 s on a saturated machine). That is the call's truth, not a lost
    recording.
    """
    if any(size is None for size in sizes.values()):
        return "missing"
    if all(size is not None and size > WAV_HEADER for size in sizes.values()):
        return "ok"
    return "missing" if talk_s >= SHORT_BRIDGE_S else "empty_short_bridge"


def sched_s(pid: int) -> tuple[float, float]:
    """(CPU time, time runnable but waiting for a CPU) of a process's main thread
    in seconds (/proc/<pid>/schedstat): the second is starvation by other processes."""
    run_ns, wait_ns, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0, help="time calls are placed")
    pbx_load.add_caller_load_options(
        parser, rate=5.0, hold_s=55.0, hold_help="caller stays after its digits"
    )
    parser.add_argument("--agents", type=int, default=10, help="agents 1001.. (at most 10)")
    parser.add_argument("--answer-s", type=float, default=0.3, help="agent phone rings this long")
    parser.add_argument("--talk-s", type=float, default=3.0, help="agent hangs up after this")
    parser.add_argument("--agent-sockets", type=int, default=90, help="WebSockets per agent")
    parser.add_argument("--supervisor-sockets", type=int, default=100)
    parser.add_argument(
        "--client-procs", type=int, default=4, help="processes holding the sockets, shared out"
    )
    parser.add_argument(
        "--cti-log", type=Path, default=Path("soak-cti.log"), help="the CTI's log (kept)"
    )
    args = parser.parse_args()
    agents = [str(1001 + i) for i in range(args.agents)]
    for agent in agents:
        agent_port(agent)  # a static contact exists for it
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = pbx_load.scratch_settings(
            base,
            # the benchmark's 1,000 sockets: more than the default limits allow
            web_sessions_per_user=8,
            web_sockets_per_session=max(args.agent_sockets, args.supervisor_sockets, 4),
        )
        demo = DemoSecrets.generate(secrets.token_urlsafe(12))
        await pbx_load.seed_database(settings, demo, extra_agents(demo, agents))
        async with pbx_load.asterisk(settings):
            result = await soak(settings, demo, agents, args, base / "hotline.db")
    print(json.dumps(result))


async def soak(
    settings: Settings,
    demo: DemoSecrets,
    agents: list[str],
    args: argparse.Namespace,
    database: Path,
) -> dict[str, object]:
    fields = [
        "ami_port",
        "ami_secret",
        "sip_port",
        "agi_port",
        "web_port",
        "asterisk_run_dir",
        "recordings_dir",
        "database_url",
        "web_sessions_per_user",
        "web_sockets_per_session",
    ]
    calls = max(1, round(args.rate * args.minutes * 60))
    callers = pbx_load.load_callers(calls, CHOICES)
    watch = AmiWatch()
    phones = [
        AgentPhone(agent_port(a), answer_after_s=args.answer_s, hangup_after_s=args.talk_s)
        for a in agents
    ]
    async with contextlib.AsyncExitStack() as stack:
        cti_pid = await stack.enter_async_context(cti_process(settings, fields, args.cti_log))
        await watch.start(settings)
        stack.push_async_callback(watch.stop)
        for phone in phones:
            await stack.enter_async_context(phone)
        web = f"http://{settings.web_host}:{settings.web_port}"
        http = await stack.enter_async_context(aiohttp.ClientSession())
        sessions: list[tuple[str, str, int]] = []
        for agent in agents:
            token = await login(http, web, agent, demo.agent_password)
            sessions.append((agent, token, args.agent_sockets))
        supervisor = await login(http, web, "supervisor", demo.supervisor_password)
        sessions.append(("supervisor", supervisor, args.supervisor_sockets))
        url = web.replace("http", "ws") + "/ws"
        clients = await start_clients(url, sessions, args.client_procs)
        sockets = 0
        for client in clients:
            assert client.stdout
            async with asyncio.timeout(300):
                line = (await client.stdout.readline()).decode().split()
            if not line or line[0] != "ready":
                raise RuntimeError(f"socket client failed: {line}")
            sockets += int(line[1])
        for _, token, _ in sessions[:-1]:
            await ready(http, web, token)
        rss_start = rss_mb(cti_pid)
        cpu_start = cpu_s(cti_pid)
        sched_start = sched_s(cti_pid)
        rss_peak = rss_start
        started = time.monotonic()

        async def sample_rss() -> None:
            nonlocal rss_peak
            while True:
                rss_peak = max(rss_peak, rss_mb(cti_pid))
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample_rss())
        try:
            async with pbx_load.caller_load(settings, callers, args) as load:
                result = await load.wait()
            async with asyncio.timeout(120):  # Asterisk ends every call
                await watch.idle.wait()
            catch_up = await cti_caught_up(http, web, supervisor)  # the CTI has seen it
        finally:
            sampler.cancel()
        elapsed = time.monotonic() - started
        await asyncio.sleep(2.0)  # the last frames cross the CTI and the client's sockets
        rss_end = rss_mb(cti_pid)
        cti_cpu = cpu_s(cti_pid) - cpu_start
        sched_end = sched_s(cti_pid)
        report = await stop_clients(clients)
        answered_by_agents = sum(phone.calls_answered for phone in phones)
    # hotline serve has stopped (SIGTERM): its CDR writer is drained
    rows = count_cdrs(database)
    per_caller = Counter(number for number, *_ in rows)
    answered = {call.caller_number for call in result.calls if call.answered}
    cdrs_missing = sum(1 for number in answered if number not in per_caller)
    cdrs_duplicated = sum(n - 1 for n in per_caller.values() if n > 1)
    agent_answered = [row for row in rows if row[1] == "answered" and row[2]]
    verdicts: Counter[str] = Counter()
    for number, _, agent_id, path, answered_at, ended_at, talk_s in agent_answered:
        sizes = recording_files(path)
        verdict = recording_verdict(sizes, talk_s)
        verdicts[verdict] += 1
        if verdict != "ok":
            print(
                f"recording {verdict}: caller {number}, agent {agent_id}, answered {answered_at},"
                f" ended {ended_at}, talk {talk_s:.3f} s; bytes (None: absent) {sizes}: {path}",
                file=sys.stderr,
            )
    pops: dict[str, dict[str, int]] = report["pops"]
    pops_missing = pop_frames_missing = 0
    for call_id, agent in sorted(watch.offers):
        got = pops.get(agent, {}).get(call_id, 0)
        if got < args.agent_sockets:
            pops_missing += 1
            print(f"offer {call_id} to {agent}: a pop on {got} sockets", file=sys.stderr)
        pop_frames_missing += args.agent_sockets - min(got, args.agent_sockets)
    closed = Counter(f"{who}:{code}" for who, code, _ in report["closed"])
    if report["closed"]:
        print("sockets the server closed (who, code, s):", report["closed"][:20], file=sys.stderr)
    stalls = loop_stalls(args.cti_log)
    problems = cti_problems(args.cti_log)
    print(f"CTI warnings and errors: {len(problems)}", *problems[-30:], sep="\n", file=sys.stderr)
    if result.diagnostics:
        print(result.diagnostics[-3000:], file=sys.stderr)
    return {
        "calls": calls,
        "cdrs_missing": cdrs_missing,
        "cdrs_duplicated": cdrs_duplicated,
        "recordings_missing": verdicts["missing"],
        "pops_missing": pops_missing,
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "peak_concurrent": watch.peak,
        "peak_concurrent_callers": result.peak_concurrent,
        "answered_by_ivr": len(answered),
        "unanswered": calls - len(answered),
        "cdr_rows": len(rows),
        "cdrs_answered_by_agent": len(agent_answered),
        "recordings_empty_short_bridge": verdicts["empty_short_bridge"],
        "agent_phone_answers": answered_by_agents,
        "offers": len(watch.offers),
        "pop_frames_missing": pop_frames_missing,
        "sockets": sockets,
        "sockets_closed_early": len(report["closed"]),
        "sockets_closed_by": dict(closed),
        "cti_cpu_s": round(cti_cpu, 1),
        "cti_catch_up_s": round(catch_up, 1),
        "cti_main_thread_cpu_s": round(sched_end[0] - sched_start[0], 1),
        "cti_runnable_waiting_s": round(sched_end[1] - sched_start[1], 1),
        "cti_warnings": len(problems),
        "cti_loop_stalls": len(stalls),
        "cti_loop_worst_late_s": max(stalls, default=0.0),
        "client_procs": args.client_procs,
        "frames_received": report["frames"],
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_peak_mb": round(rss_peak, 1),
        "sipp_exit_code": result.exit_code,
        "rate_per_s": args.rate,
        "hold_s": args.hold_s,
        "minutes": args.minutes,
        "elapsed_s": round(elapsed, 1),
        "caller_audio": not args.no_audio,
    }


if __name__ == "__main__":
    asyncio.run(main())
