"""Fault: a flood of wrong logins during real calls does not slow the screen-pops.

The CTI runs as its own process (``hotline serve``), so that the test's own
work (the WebSocket readers, the flooders) does not share its event loop.
Agents 1001 and 1002 log in from 127.0.0.1, go ready and read their WebSockets;
each has a sipp phone. Real SIP calls go through the IVR to a queue and are
offered to the agents; for every offer the screen-pop latency is the time
from Asterisk's ``DialBegin`` to the agent's phone (its ``Timestamp``, read on
an AMI connection of the test's own) to the ``screen.pop`` frame arriving on
the agent's WebSocket. First a baseline without a flood, then the same number
of calls while flooder processes send wrong logins (wrong passwords for the
real users, and unknown usernames) from 20 source addresses 127.0.0.2-21,
at ``FLOOD_RATE`` per second in all.

Asserted:

* p99(flood) <= 2 x max(p99(baseline), FLOOR_MS). The floor: on this 2-core
  machine, shared with Asterisk, sipp and other runs, a quiet pop takes 1-5 ms,
  and one wake-up behind another runnable process (the scheduler's latency
  target for 2 CPUs is 12 ms) moves a single sample by 10 ms or more; "twice
  3 ms" would judge that noise, not the flood. 20 ms is above that noise and
  far below what the flood did when passwords were checked on the event loop
  (pops up to 398 ms late);
* the flood was served: every attempt was answered, 401 (checked and wrong),
  429 (throttled) or 503 (too many checks at once), and a good share of them
  were really checked (401s);
* the right password still logs in during the flood, from an address that
  has not failed: the supervisor, whose username is flooded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from pathlib import Path

import aiohttp
import pytest

from cti.config import Settings
from cti.demo import DemoSecrets
from tests.support.cti_process import CtiProcess
from tests.support.fault_desk import DeskAgent, Frames, next_of_type, percentile
from tests.support.login_flood import Flood, Offer, flood_addresses, pop_latencies
from tests.support.pbx_fixture import Pbx
from tests.support.sipp import AgentPhone, agent_port

pytestmark = pytest.mark.asterisk

AGENTS = ("1001", "1002")  # the agents of the English billing queue (DTMF 1, 1)
CALLS = 16  # per phase
GAP_S = 0.7  # between two calls' starts
FLOOD_RATE = 40.0  # wrong logins per second, in all
ADDRESSES = 20  # the flood's source addresses (127.0.0.2-21)
FLOOD_USERS = (*AGENTS, "supervisor", "qa", *(f"ghost{n}" for n in range(6)))
FLOOR_MS = 20.0


async def try_login(
    http: aiohttp.ClientSession, base: str, user: str, password: str
) -> tuple[int, float]:
    """One login attempt from 127.0.0.1: (status, seconds it took)."""
    started = time.monotonic()
    body = {"username": user, "password": password}
    async with http.post(f"{base}/api/login", json=body) as r:
        await r.read()
        return r.status, time.monotonic() - started


def summary(offers: list[Offer]) -> str:
    ms = [o.latency_ms for o in offers]
    return (
        f"{len(ms)} pops: p50 {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
        f"{[(o.call_id[-6:], o.agent, round(o.latency_ms, 1)) for o in offers]}"
    )


async def test_a_flood_of_wrong_logins_leaves_screen_pops_within_twice_their_quiet_p99(
    pbx: Pbx, hotline_settings: Settings, demo_secrets: DemoSecrets, tmp_path: Path, capsys
) -> None:
    settings = hotline_settings
    cti = CtiProcess(settings, tmp_path / "serve.log")
    ami = await pbx.ami(events="on")
    phones = [AgentPhone(port=agent_port(a), answer_after_s=0.2) for a in AGENTS]
    try:
        for phone in phones:
            await phone.start()
        await cti.start()
        async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
            desks = [DeskAgent(http, cti.base, a) for a in AGENTS]
            sockets: dict[str, Frames] = {}
            for desk in desks:
                await desk.login(demo_secrets.agent_password)
                sockets[desk.user] = await stack.enter_async_context(desk.socket())
                await next_of_type(sockets[desk.user], "hello", 10)
                assert (await desk.post("/api/agent/state", {"state": "ready"}))[0] == 200
            quiet = await pop_latencies(
                settings.sip_port,
                ami,
                sockets,
                [f"155502{n:05d}" for n in range(CALLS)],
                gap_s=GAP_S,
            )
            flood = Flood(
                f"{cti.base}/api/login", flood_addresses(ADDRESSES), FLOOD_USERS, rate=FLOOD_RATE
            )
            async with flood:
                # the flood saturates the checks (503s), and each of its
                # addresses has failed once at least
                await flood.until(lambda s: s[503] > 0 and s[401] >= ADDRESSES)
                login = asyncio.create_task(
                    try_login(http, cti.base, "supervisor", demo_secrets.supervisor_password)
                )
                flooded = await pop_latencies(
                    settings.sip_port,
                    ami,
                    sockets,
                    [f"155503{n:05d}" for n in range(CALLS)],
                    gap_s=GAP_S,
                )
                async with asyncio.timeout(10):
                    login_status, login_s = await login
    finally:
        await cti.stop()
        await ami.close()
        for phone in phones:
            await phone.stop()
    result = flood.result
    with capsys.disabled():
        print(
            f"\n[faults] login flood: quiet {summary(quiet)}; flooded {summary(flooded)}; "
            f"{result.sent} wrong logins in {result.seconds:.1f} s: "
            f"{dict(sorted(result.statuses.items()))}, errors {dict(result.errors)}; "
            f"the supervisor's login: {login_status} after {login_s * 1000:.0f} ms"
        )
    assert login_status == 200, f"the supervisor's right password: {login_status}"
    assert len(quiet) >= CALLS and len(flooded) >= CALLS
    assert not result.errors and result.skipped == 0, (result.errors, result.skipped)
    assert result.answered == result.sent, result
    assert set(result.statuses) <= {401, 429, 503}, result.statuses
    assert result.sent >= 0.8 * FLOOD_RATE * result.seconds, result
    assert result.rate(401) >= 2, f"only {result.rate(401):.1f} wrong logins checked per s"
    quiet_p99 = percentile([o.latency_ms for o in quiet], 99)
    flooded_p99 = percentile([o.latency_ms for o in flooded], 99)
    assert flooded_p99 <= 2 * max(quiet_p99, FLOOR_MS), (
        f"flooded p99 {flooded_p99:.1f} ms vs quiet {quiet_p99:.1f} ms: "
        f"{[round(o.latency_ms, 1) for o in flooded]}"
    )
