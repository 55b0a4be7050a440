"""Property-based test of the WebSocket protocol: hostile messages from a logged-in agent.

The app runs on loopback with the real core and database and a stub AMI; the
examples are drawn in a thread and each message is sent over one socket on
the test's loop. Every message gets an answer frame (``error`` for anything
but ``ping``/``resync``) or a clean close, and the server stays usable.
Deeply nested JSON is left to the JSON limits' own tests: here nesting is
bounded.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cti.web.app import MAX_WS_MESSAGE
from tests.support.desk_app import RunningDesk, running_desk

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(
    st.sampled_from(["type", "data", "v", "id"]) | st.text(max_size=8), json_values, max_size=4
)
typed = st.builds(
    lambda kind, rest: {**rest, "type": kind},
    st.sampled_from(["ping", "resync", "", "PING", "hello", "error", "x" * 100])
    | st.text(max_size=30)
    | json_values,
    json_objects,
)
messages = st.one_of(
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.one_of(json_values, json_objects, typed).map(lambda m: ("text", json.dumps(m))),
    st.binary(max_size=64).map(lambda b: ("binary", b)),
)
#: replies the server may give to a client's message
REPLY_TYPES = {"pong", "hello", "error"}


class Socket:
    """One agent socket, reopened when the server closed it."""

    def __init__(self, desk: RunningDesk, token: str) -> None:
        self.desk, self.token = desk, token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.closes: list[int | None] = []

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        if self.ws is None or self.ws.closed:
            headers = {"Authorization": f"Bearer {self.token}"}
            self.ws = await self.desk.client.ws_connect("/ws", headers=headers)
            assert (await self.frame())["type"] == "hello"
        return self.ws

    async def frame(self) -> dict[str, Any]:
        assert self.ws is not None
        async with asyncio.timeout(5):
            msg = await self.ws.receive()
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return {"type": "closed", "code": self.ws.close_code}
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
        return frame

    async def exchange(self, kind: str, payload: str | bytes) -> list[dict[str, Any]]:
        """Send one message and then a ping; the frames up to the pong (or the close)."""
        ws = await self.open()
        if kind == "text":
            assert isinstance(payload, str)
            await ws.send_str(payload)
        else:
            assert isinstance(payload, bytes)
            await ws.send_bytes(payload)
        if not ws.closed:
            await ws.send_str('{"type": "ping"}')
        pongs = 2 if is_ping(kind, payload) else 1
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.frame()
            frames.append(frame)
            if frame["type"] == "closed" or [f["type"] for f in frames].count("pong") == pongs:
                return frames


def is_ping(kind: str, payload: str | bytes) -> bool:
    if kind != "text":
        return False
    try:
        message = json.loads(payload)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


def check_exchange(sent: tuple[str, str | bytes], frames: list[dict[str, Any]]) -> None:
    last = frames[-1]
    if last["type"] == "closed":
        # only an over-long message may close the socket, with "message too big"
        assert len(sent[1]) > MAX_WS_MESSAGE or len(str(sent[1]).encode()) > MAX_WS_MESSAGE
        assert last["code"] == aiohttp.WSCloseCode.MESSAGE_TOO_BIG, frames
        return
    assert all(f["type"] in REPLY_TYPES for f in frames), frames
    errors = [f for f in frames if f["type"] == "error"]
    assert all(isinstance(e["data"].get("error"), str) for e in errors), errors
    if sent[0] == "binary":
        assert frames == [frames[-1]]  # binary frames are ignored
    else:
        assert len(frames) == 2  # one answer, then the pong


async def test_hostile_websocket_messages_get_an_error_frame_or_a_clean_close(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        token = await desk.login("agent")
        socket = Socket(desk, token)
        loop = asyncio.get_running_loop()

        @settings(
            max_examples=150,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(messages)
        @example(("text", "x" * (MAX_WS_MESSAGE + 1)))
        @example(("text", '{"type": "resync"}'))
        @example(("text", '{"type": ' + '"a' * 30 + '"}'))
        @example(("text", "[1, 2"))
        @example(("text", '{"type": 1}'))
        @example(("binary", b"\xff\x00"))
        def run(message: tuple[str, str | bytes]) -> None:
            future = asyncio.run_coroutine_threadsafe(socket.exchange(*message), loop)
            check_exchange(message, future.result(timeout=10))

        await asyncio.to_thread(run)
        # the server is still usable: a fresh socket answers, the API too
        fresh = Socket(desk, token)
        assert [f["type"] for f in await fresh.exchange("text", '{"type": "ping"}')] == [
            "pong",
            "pong",
        ]
        async with desk.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
        for ws in (socket.ws, fresh.ws):
            if ws is not None:
                await ws.close()
