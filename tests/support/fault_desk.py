"""What the fault tests share: an agent's web client, CDR counts, percentiles."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy import func, select

from cti.db.models import CallRecord
from cti.db.repository import Repository


class DeskAgent:
    """An agent as the agent page is: logged in over HTTP, a WebSocket for pops."""

    def __init__(self, http: aiohttp.ClientSession, base: str, user: str) -> None:
        self.http, self.base, self.user = http, base, user
        self.token = ""

    async def login(self, password: str) -> None:
        async with self.http.post(
            f"{self.base}/api/login", json={"username": self.user, "password": password}
        ) as r:
            assert r.status == 200, await r.text()
            self.token = (await r.json())["token"]

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.post(
            f"{self.base}{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
        ) as r:
            return r.status, await r.json()

    @asynccontextmanager
    async def socket(self, **options: Any) -> AsyncIterator[Frames]:
        """The agent's WebSocket, read all the time (as the agent page does)."""
        async with self.http.ws_connect(
            f"{self.base}/ws", headers={"Authorization": f"Bearer {self.token}"}, **options
        ) as ws:
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


async def next_of_type(frames: Frames, kind: str, within: float) -> Any:
    """The data of the next frame of type ``kind`` (others are skipped)."""
    return (await frames.next(kind, within))[1]


async def cdr_rows(repository: Repository, call_id: str) -> int:
    """How many CDR rows the database holds for ``call_id``."""
    async with repository.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(CallRecord).where(CallRecord.call_id == call_id)
        )
    return int(count or 0)


async def all_cdr_ids(repository: Repository) -> list[str]:
    async with repository.sessions() as session:
        return list(await session.scalars(select(CallRecord.call_id)))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
