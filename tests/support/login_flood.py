"""A flood of wrong logins during real calls: the flooders and the pop latencies.

Shared by the fault test (tests/integration/test_faults_login_flood.py) and
its benchmark (benchmarks/login_flood.py ``--pbx``): ``calls_with_and_without_flood``
runs the whole scenario; its parts:

* ``Flood``: flooder processes (tests/support/login_flooder.py), each sending
  wrong logins from its own share of source addresses 127.0.0.x, for real
  usernames and unknown ones; on exit, what the server answered.
* ``pop_latencies``: real SIP calls through the IVR to a queue and the agents'
  sipp phones; for every offer, from Asterisk's ``DialBegin`` to the agent's
  phone (its ``Timestamp``, seen on an AMI connection of the test's own) to the
  ``screen.pop`` frame of that call arriving on the agent's WebSocket (one
  host, one clock: ``time.time``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from cti.config import Settings
from cti.demo import DemoSecrets
from tests.support.agent_client import Agent
from tests.support.cti_process import CtiProcess
from tests.support.fault_desk import next_of_type, percentile
from tests.support.lifecycle import StartStop
from tests.support.pbx_fixture import RawAmi
from tests.support.sipp import AgentPhone, CallHandle, agent_port, start_call
from tests.support.ws_frames import Frames

FLOODER = Path(__file__).with_name("login_flooder.py")


@dataclass
class FloodResult:
    sent: int = 0
    skipped: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def rate(self, *statuses: int) -> float:
        """Answers per second with one of ``statuses`` (all answers if none given)."""
        count = sum(self.statuses[s] for s in statuses) if statuses else self.answered
        return count / self.seconds if self.seconds else 0.0


class Flood(StartStop):
    """``processes`` flooders at ``rate`` wrong logins per second in all, from
    ``addresses`` source addresses (split between them), cycling ``usernames``.
    They run ``nice`` lower in CPU priority: an attacker's clients run on
    machines of their own, not on the server's cores as here.

    ::

        async with Flood(url, addresses, usernames, rate=40) as flood:
            ...
        flood.result.statuses
    """

    def __init__(
        self,
        login_url: str,
        addresses: Sequence[str],
        usernames: Sequence[str],
        *,
        rate: float,
        processes: int = 4,
        nice: int = 10,
    ) -> None:
        self.login_url, self.addresses, self.usernames = login_url, addresses, usernames
        self.rate, self.processes, self.nice = rate, processes, nice
        self.result = FloodResult()
        self._procs: list[asyncio.subprocess.Process] = []
        self._readers: list[asyncio.Task[str]] = []
        self._answers = asyncio.Condition()
        self.live: Counter[int] = Counter()  # answers so far, by status
        self._started = 0.0

    async def until(self, ready: Callable[[Counter[int]], bool], within: float = 30.0) -> None:
        """Until ``ready(answers so far by status)`` holds."""
        async with asyncio.timeout(within), self._answers:
            await self._answers.wait_for(lambda: ready(self.live))

    async def _read(self, proc: asyncio.subprocess.Process) -> str:
        """Follows a flooder's answers (one status a line); returns its report."""
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode():
            if line.startswith("{"):
                return line
            async with self._answers:
                self.live[int(line)] += 1
                self._answers.notify_all()
        return ""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for i in range(self.processes):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(FLOODER),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self._procs.append(proc)
            config = {
                "url": self.login_url,
                "addresses": list(self.addresses[i :: self.processes]),
                # each process starts at another username
                "usernames": [*self.usernames[i:], *self.usernames[:i]],
                "rate": self.rate / self.processes,
                "nice": self.nice,
            }
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps(config) + "\n").encode())
            await proc.stdin.drain()
        for proc in self._procs:
            assert proc.stdout is not None
            async with asyncio.timeout(30):
                line = await proc.stdout.readline()
            assert line.strip() == b"ready", f"a flooder did not start: {line!r}"
        self._readers = [asyncio.create_task(self._read(proc)) for proc in self._procs]
        self._started = loop.time()

    async def stop(self) -> FloodResult:
        """Stop the flooders; what the server answered them, in ``result``."""
        return await self._stop(report=True)

    async def abort(self) -> FloodResult:
        """Stop the flooders without reading their reports (the block failed)."""
        return await self._stop(report=False)

    async def _stop(self, *, report: bool) -> FloodResult:
        self.result.seconds = asyncio.get_running_loop().time() - self._started
        try:
            for proc in self._procs:
                assert proc.stdin is not None
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
            for reader in self._readers:
                async with asyncio.timeout(60):
                    line = await reader
                if report:
                    figures: dict[str, Any] = json.loads(line)
                    self.result.sent += figures["sent"]
                    self.result.skipped += figures["skipped"]
                    self.result.statuses.update({int(k): v for k, v in figures["statuses"].items()})
                    self.result.errors.update(figures["errors"])
        finally:
            for reader in self._readers:
                reader.cancel()
            for proc in self._procs:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()
        return self.result


def flood_addresses(count: int) -> list[str]:
    """127.0.0.2 onwards (127.0.0.1, where the agents' desks log in, is left out)."""
    assert 0 < count <= 250
    return [f"127.0.0.{2 + i}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class Offer:
    call_id: str
    agent: str
    dial_begin: float  # Asterisk's Timestamp of the DialBegin to the agent's phone
    popped: float  # when the screen.pop frame arrived on the agent's WebSocket

    @property
    def latency_ms(self) -> float:
        return (self.popped - self.dial_begin) * 1000


async def pop_latencies(
    sip_port: int,
    ami: RawAmi,
    sockets: dict[str, Frames],
    callers: Sequence[str],
    *,
    gap_s: float,
    dtmf: str = "11",
    talk_s: float = 1.0,
    within: float = 90.0,
) -> list[Offer]:
    """Calls from ``callers``, one every ``gap_s``; the offers to the agents of
    ``sockets`` with the time from DialBegin to screen-pop, in offer order.

    Every offer must have popped (an AssertionError says which did not).
    """
    since = len(ami.events)
    for frames in sockets.values():  # what came before is not this phase's
        while not frames.queue.empty():
            frames.queue.get_nowait()
    calls: list[CallHandle] = []
    try:
        for n, caller in enumerate(callers):
            if n:
                await asyncio.sleep(gap_s)
            calls.append(await start_call(sip_port, caller_number=caller, dtmf=dtmf, talk_s=talk_s))
        async with asyncio.timeout(within):
            for call in calls:
                result = await call.wait()
                assert result.answered, result.describe()
    finally:
        for call in calls:
            await call.stop()
    ours = set(callers)
    offered: set[str] = set()
    dial_begins: dict[tuple[str, str], float] = {}
    for message in ami.events[since:]:
        dest = message.get("DestChannel") or ""
        if message.event != "DialBegin" or not dest.startswith("PJSIP/agent"):
            continue
        if message.get("CallerIDNum") not in ours:
            continue
        agent = dest.removeprefix("PJSIP/agent").split("-", 1)[0]
        offered.add(message["CallerIDNum"])
        key = (message["Linkedid"], agent)
        if agent in sockets and key not in dial_begins:
            dial_begins[key] = float(message["Timestamp"])
    unoffered = sorted(ours - offered)
    assert not unoffered, f"calls never offered to an agent: {unoffered}"
    popped: dict[tuple[str, str], float] = {}
    for agent, frames in sockets.items():
        # the last pops may still be on their way
        deadline = asyncio.get_running_loop().time() + 5
        while any(k not in popped for k in dial_begins if k[1] == agent):
            timeout = deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    item = await frames.queue.get()
            except TimeoutError:
                break
            assert item is not None, f"{agent}'s socket closed ({frames.ws.close_code})"
            at, frame = item
            if frame["type"] == "screen.pop":
                popped.setdefault((frame["data"]["call_id"], agent), at)
    missing = [k for k in dial_begins if k not in popped]
    assert not missing, f"offers without a screen-pop: {missing}"
    offers = [Offer(c, a, t, popped[(c, a)]) for (c, a), t in dial_begins.items()]
    return sorted(offers, key=lambda o: o.dial_begin)


@dataclass
class FloodRun:
    """What ``calls_with_and_without_flood`` saw."""

    quiet: list[Offer]
    flooded: list[Offer]
    flood: FloodResult
    login_status: int  # the supervisor's right password, during the flood
    login_s: float

    @staticmethod
    def ms(offers: list[Offer]) -> list[float]:
        return [o.latency_ms for o in offers]

    def figures(self) -> dict[str, Any]:
        quiet, flooded = self.ms(self.quiet), self.ms(self.flooded)
        quiet_p99, flooded_p99 = percentile(quiet, 99), percentile(flooded, 99)
        return {
            "pops": [len(quiet), len(flooded)],
            "quiet_p50_ms": round(statistics.median(quiet), 2),
            "quiet_p99_ms": round(quiet_p99, 2),
            "flood_p50_ms": round(statistics.median(flooded), 2),
            "flood_p99_ms": round(flooded_p99, 2),
            "p99_ratio": round(flooded_p99 / quiet_p99, 2),
            "flood_sent": self.flood.sent,
            "flood_s": round(self.flood.seconds, 1),
            "flood_statuses": {str(k): v for k, v in sorted(self.flood.statuses.items())},
            "flood_errors": dict(self.flood.errors),
            "checked_per_s": round(self.flood.rate(401), 1),
            "right_password_status": self.login_status,
            "right_password_ms": round(self.login_s * 1000, 1),
        }


async def try_login(
    http: aiohttp.ClientSession, base: str, user: str, password: str
) -> tuple[int, float]:
    """One login attempt from 127.0.0.1: (status, seconds it took)."""
    started = time.monotonic()
    body = {"username": user, "password": password}
    async with http.post(f"{base}/api/login", json=body) as r:
        await r.read()
        return r.status, time.monotonic() - started


async def calls_with_and_without_flood(
    settings: Settings,
    ami: RawAmi,
    demo: DemoSecrets,
    log_file: Path,
    *,
    agents: Sequence[str],
    calls: int,
    gap_s: float,
    rate: float,
    addresses: int,
    usernames: Sequence[str],
) -> FloodRun:
    """``hotline serve`` on ``settings`` (a seeded database), ``agents`` ready
    with sipp phones and WebSockets; ``calls`` calls (DTMF 1, 1: the English
    billing queue) without a flood, then ``calls`` more while wrong logins
    come at ``rate`` from ``addresses`` addresses. During the flood, once it
    saturates the checks and each of its addresses has failed, the supervisor
    logs in with the right password from 127.0.0.1 (one attempt)."""
    cti = CtiProcess(settings, log_file)
    phones = [AgentPhone(port=agent_port(a), answer_after_s=0.2) for a in agents]
    try:
        for phone in phones:
            await phone.start()
        await cti.start()
        async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
            sockets: dict[str, Frames] = {}
            for agent in agents:
                desk = Agent(http, cti.base, agent)
                await desk.login(demo.agent_password)
                sockets[agent] = await stack.enter_async_context(desk.frames())
                await next_of_type(sockets[agent], "hello", 10)
                assert (await desk.post("/api/agent/state", {"state": "ready"}))[0] == 200
            # caller numbers of this test's own (1555-08/09): the suite's Asterisk
            # keeps one CDR file, which later tests' CTIs recover from
            quiet = await pop_latencies(
                settings.sip_port,
                ami,
                sockets,
                [f"155508{n:05d}" for n in range(calls)],
                gap_s=gap_s,
            )
            flood = Flood(f"{cti.base}/api/login", flood_addresses(addresses), usernames, rate=rate)
            async with flood:
                await flood.until(lambda s: s[503] > 0 and s[401] >= addresses)
                login = asyncio.create_task(
                    try_login(http, cti.base, "supervisor", demo.supervisor_password)
                )
                flooded = await pop_latencies(
                    settings.sip_port,
                    ami,
                    sockets,
                    [f"155509{n:05d}" for n in range(calls)],
                    gap_s=gap_s,
                )
                async with asyncio.timeout(10):
                    login_status, login_s = await login
    finally:
        await cti.stop()
        for phone in phones:
            await phone.stop()
    return FloodRun(quiet, flooded, flood.result, login_status, login_s)
