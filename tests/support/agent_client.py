"""An agent's side of the real-call tests: the desk API and WebSocket as the
agent page uses them, and waits on the agent's state in the CTI's core."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from cti.domain.model import AgentState
from cti.server import Running
from tests.support.waiting import wait_until


async def login(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with http.post(f"{base}/api/login", json={"username": user, "password": password}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


async def set_state(http: aiohttp.ClientSession, base: str, token: str, **body: str) -> Any:
    async with http.post(
        f"{base}/api/agent/state", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


class Agent:
    """One logged-in agent: POSTs with its token and its WebSocket."""

    def __init__(self, http: aiohttp.ClientSession, base: str, user: str) -> None:
        self.http, self.base, self.user = http, base, user
        self.token = ""

    async def login(self, password: str) -> None:
        self.token = await login(self.http, self.base, self.user, password)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.post(
            f"{self.base}{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
        ) as r:
            return r.status, await r.json()

    @asynccontextmanager
    async def socket(self, **options: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """The agent's WebSocket (``options`` for ``ws_connect``), read by the caller."""
        async with self.http.ws_connect(
            f"{self.base}/ws", headers={"Authorization": f"Bearer {self.token}"}, **options
        ) as ws:
            yield ws

    @asynccontextmanager
    async def frames(self, **options: Any) -> AsyncIterator[Frames]:
        """The agent's WebSocket, read all the time (as the agent page does)."""
        async with self.socket(**options) as ws:
            frames = Frames(ws)
            try:
                yield frames
            finally:
                frames.reader.cancel()


class Frames:
    """Every frame a WebSocket receives, with its arrival time (``time.time``, the
    clock of Asterisk's event timestamps)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]] | None] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.queue.put_nowait((time.time(), json.loads(msg.data)))
        self.queue.put_nowait(None)

    async def next(self, kind: str, within: float) -> tuple[float, Any]:
        """(arrival time, data) of the next frame of type ``kind`` (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                item = await self.queue.get()
                assert item is not None, f"the socket closed ({self.ws.close_code})"
                at, frame = item
                if frame["type"] == kind:
                    return at, frame["data"]


async def next_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str, within: float) -> Any:
    """The data of the next frame of type ``kind`` (other frames are skipped)."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            assert data["v"] == 1
            if data["type"] == kind:
                return data["data"]


async def ready_in_asterisk(running: Running, agent: str) -> None:
    core = running.hotline.core
    await wait_until(
        lambda: all(
            (m := core.queues[q].members.get(agent)) is not None and not m.paused
            for q in core.agents[agent].queues
        ),
        within=10,
        what=f"Asterisk to report agent {agent} unpaused in its queues",
    )


async def talking(running: Running, agent: str) -> str:
    core = running.hotline.core
    await wait_until(
        lambda: core.agents[agent].state is AgentState.TALKING,
        within=60,
        what=f"agent {agent} to be talking",
    )
    call_id = core.agents[agent].call_id
    assert call_id is not None
    return call_id
