"""Fault: an agent's browser stops reading its WebSocket during real calls.

Its socket is closed with 1013 ("too slow") within a bounded time, while the
other agent's screen-pops of real SIP calls keep arriving.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from cti.config import Settings
from cti.server import running_hotline
from cti.web.hub import WS_TOO_SLOW
from tests.support.agent_client import Agent
from tests.support.fault_desk import next_of_type
from tests.support.raw_ws import close_of, read_frames, stalled_socket
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


async def test_a_socket_that_stops_reading_is_closed_1013_while_pops_go_on(
    hotline_settings: Settings, demo_password: str, tmp_path: Path, capsys
) -> None:
    settings = hotline_settings.model_copy(
        update={"ws_send_timeout_s": 2.0, "ws_pending_bytes": 64 * 1024}
    )
    async with (
        running_hotline(settings) as running,
        aiohttp.ClientSession() as http,
        AgentPhone(port=agent_port(1001), answer_after_s=0.3),
    ):
        hub, core = running.hotline.hub, running.hotline.core
        reader, stalled = (
            Agent(http, running.web_url, "1001"),
            Agent(http, running.web_url, "1003"),
        )
        await reader.login(demo_password)
        await stalled.login(demo_password)  # logged in, paused: calls go to 1001
        assert (await reader.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await wait_until(
            lambda: core.agents["1001"].state.value == "ready", within=10, what="1001 ready"
        )
        sock = stalled_socket(settings.web_host, settings.web_port, stalled.token)
        try:
            async with reader.frames() as frames:
                await next_of_type(frames, "hello", 5)
                await wait_until(
                    lambda: len(hub.sockets_of("1003")) == 1, within=5, what="1003's socket"
                )
                # from now on 1003's browser reads nothing; its desk keeps getting
                # frames (its state, as on a busy floor) while real calls pop for 1001
                started = time.monotonic()

                async def busy_floor() -> None:
                    while hub.sockets_of("1003"):
                        hub.to_user("1003", "agent", {"state": "paused", "filler": "x" * 200})
                        await asyncio.sleep(0.002)

                floor = asyncio.create_task(busy_floor())
                pops = []
                for n in range(2):
                    call = await start_call(
                        settings.sip_port, caller_number=f"1555010004{n}", dtmf="11", talk_s=2
                    )
                    async with call:
                        pops.append(await next_of_type(frames, "screen.pop", 30))
                        result = await call.wait(30)
                        assert result.answered, result.describe()
                    await wait_until(
                        lambda: core.agents["1001"].state.value == "ready",
                        within=10,
                        what="1001 ready again",
                    )
                await wait_until(
                    lambda: not hub.sockets_of("1003"), within=10, what="1003's socket dropped"
                )
                dropped_after = time.monotonic() - started
                await floor
                close_frames = await asyncio.to_thread(read_frames, sock, 10.0)
        finally:
            sock.close()
    assert len({p["call_id"] for p in pops}) == 2
    assert close_of(close_frames)[0] == WS_TOO_SLOW
    assert dropped_after < 8, dropped_after
    with capsys.disabled():
        print(f"\n[faults] a stalled socket was closed 1013 after {dropped_after:.1f} s")
