"""Fault: an agent's browser stops reading its WebSocket during real calls.

Its socket is closed with 1013 ("too slow") within a bounded time, while the
other agent's screen-pops of real SIP calls keep arriving.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path

import aiohttp
import pytest

from cti.config import Settings
from cti.server import running_hotline
from cti.web.hub import WS_TOO_SLOW
from tests.support.fault_desk import DeskAgent, next_of_type
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


def read_frames(sock: socket.socket, within: float) -> list[tuple[int, bytes]]:
    """Server frames (opcode, payload) after the HTTP upgrade, up to a close frame."""
    sock.settimeout(within)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    data = data.split(b"\r\n\r\n", 1)[1]
    frames: list[tuple[int, bytes]] = []
    while True:
        while len(data) >= 2:
            opcode, length = data[0] & 0x0F, data[1] & 0x7F
            head = 2
            if length == 126:
                if len(data) < 4:
                    break
                length, head = struct.unpack("!H", data[2:4])[0], 4
            elif length == 127:
                if len(data) < 10:
                    break
                length, head = struct.unpack("!Q", data[2:10])[0], 10
            if len(data) < head + length:
                break
            frames.append((opcode, data[head : head + length]))
            data = data[head + length :]
            if opcode == 0x8:
                return frames
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return frames
        if not chunk:
            return frames
        data += chunk


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
            DeskAgent(http, running.web_url, "1001"),
            DeskAgent(http, running.web_url, "1003"),
        )
        await reader.login(demo_password)
        await stalled.login(demo_password)  # logged in, paused: calls go to 1001
        assert (await reader.post("/api/agent/state", {"state": "ready"}))[0] == 200
        await wait_until(
            lambda: core.agents["1001"].state.value == "ready", within=10, what="1001 ready"
        )
        host, port = settings.web_host, settings.web_port
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, port))
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {stalled.token}\r\n\r\n"
            ).encode()
        )
        try:
            async with reader.socket() as frames:
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
    closes = [payload for opcode, payload in close_frames if opcode == 0x8]
    assert closes, f"no close frame among {len(close_frames)} frames"
    assert struct.unpack("!H", closes[0][:2])[0] == WS_TOO_SLOW
    assert dropped_after < 8, dropped_after
    with capsys.disabled():
        print(f"\n[faults] a stalled socket was closed 1013 after {dropped_after:.1f} s")
