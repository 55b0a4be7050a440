"""An agent's side of the real-call tests: the desk API and WebSocket as the
agent page uses them, and waits on the agent's state in the CTI's core."""

from __future__ import annotations

import asyncio
import json
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
    async def socket(self) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        async with self.http.ws_connect(
            f"{self.base}/ws", headers={"Authorization": f"Bearer {self.token}"}
        ) as ws:
            yield ws


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
