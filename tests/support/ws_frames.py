"""Reading the hub's frames (protocol v1: ``{"v", "type", "data"}``) on a client WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp


async def next_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str, within: float = 5.0) -> Any:
    """The data of the next frame of type ``kind`` (other frames are skipped)."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            assert data["v"] == 1
            if data["type"] == kind:
                return data["data"]


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
