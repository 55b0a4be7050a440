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
at ``FLOOD_RATE`` per second in all. The flooders run at a lower CPU priority
(nice 10): an attacker's clients run on machines of their own, not on the
server's two cores as here.

Asserted:

* p90(flood) <= 2 x max(p90(baseline), FLOOR_MS), and no flooded pop later
  than WORST_MS. Of 16 pops a phase, the p99 is the single worst one: one
  outlier (a pop 233 ms late was seen once in about ten runs, cause not yet
  traced) decides it, whereas the flood as it was (passwords checked on the
  event loop) delayed pops throughout, which the p90 catches.
  ``benchmarks/login_flood.py --pbx`` gives the p99 over more calls. The floor: on a 2-core
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

from pathlib import Path

import pytest

from cti.config import Settings
from cti.demo import DemoSecrets
from tests.support.fault_desk import percentile
from tests.support.login_flood import calls_with_and_without_flood
from tests.support.pbx_fixture import Pbx

pytestmark = pytest.mark.asterisk

AGENTS = ("1001", "1002")  # the agents of the English billing queue (DTMF 1, 1)
CALLS = 16  # per phase
GAP_S = 0.7  # between two calls' starts
FLOOD_RATE = 40.0  # wrong logins per second, in all
ADDRESSES = 20  # the flood's source addresses (127.0.0.2-21)
FLOOD_USERS = (*AGENTS, "1003", "1004", "supervisor", "qa", *(f"ghost{n}" for n in range(6)))
FLOOR_MS = 20.0
WORST_MS = 1000.0


async def test_a_flood_of_wrong_logins_leaves_screen_pops_within_twice_their_quiet_p90(
    pbx: Pbx, hotline_settings: Settings, demo_secrets: DemoSecrets, tmp_path: Path, capsys
) -> None:
    async with await pbx.ami(events="call") as ami:  # DialBegin is of the call class
        run = await calls_with_and_without_flood(
            hotline_settings,
            ami,
            demo_secrets,
            tmp_path / "serve.log",
            agents=AGENTS,
            calls=CALLS,
            gap_s=GAP_S,
            rate=FLOOD_RATE,
            addresses=ADDRESSES,
            usernames=FLOOD_USERS,
        )
    figures, flood = run.figures(), run.flood
    with capsys.disabled():
        print(f"\n[faults] login flood: {figures}")
    assert run.login_status == 200, f"the supervisor's right password: {run.login_status}"
    assert len(run.quiet) >= CALLS and len(run.flooded) >= CALLS
    assert not flood.errors and flood.skipped == 0, (flood.errors, flood.skipped)
    assert flood.answered == flood.sent, flood
    assert set(flood.statuses) <= {401, 429, 503}, flood.statuses
    assert flood.sent >= 0.8 * FLOOD_RATE * flood.seconds, flood
    assert flood.rate(401) >= 2, f"only {flood.rate(401):.1f} wrong logins checked per s"
    quiet_p90 = percentile(run.ms(run.quiet), 90)
    flooded_p90 = percentile(run.ms(run.flooded), 90)
    flooded = [round(ms, 1) for ms in run.ms(run.flooded)]
    assert flooded_p90 <= 2 * max(quiet_p90, FLOOR_MS), (
        f"flooded p90 {flooded_p90:.1f} ms vs quiet {quiet_p90:.1f} ms: {flooded}"
    )
    assert max(flooded) <= WORST_MS, flooded
