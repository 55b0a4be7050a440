"""An agent's side of the real-call tests: the desk API and WebSocket as the
agent page uses them, and waits on the agent's state in the CTI's core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from cti.domain.model import AgentState
from cti.server import Running
from tests.support.waiting import wait_until
from tests.support.ws_frames import Frames, next_of_type

__all__ = ["Agent", "Frames", "login", "next_of_type", "ready_in_asterisk", "set_state", "talking"]


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
