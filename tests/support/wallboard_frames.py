"""The board a wallboard page holds, from the frames its socket gets: whole
boards (``wallboard.update``) taken, deltas (``wallboard.delta``) applied the
way ``cti/web/static/wallboard.js`` applies them (``cti.wallboard.delta.apply_delta``)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from cti.wallboard.delta import apply_delta


class BoardView:
    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.deltas = 0  # deltas applied

    def take(self, frame: dict[str, Any]) -> bool:
        """True when ``frame`` changed the board held (a whole board, or a delta
        on the board it was made against)."""
        if frame["type"] == "wallboard.update":
            self.data = copy.deepcopy(frame["data"])
            return True
        if frame["type"] != "wallboard.delta":
            return False
        delta, data = frame["data"], self.data
        if data is None or data["seq"] != delta["base"]:
            return False  # the page would ask for the whole board again
        apply_delta(data, copy.deepcopy(delta))
        self.deltas += 1
        return True

    async def until(
        self, ws: aiohttp.ClientWebSocketResponse, check: Callable[[Any], bool], within: float
    ) -> Any:
        """Read ``ws`` until the board held passes ``check``; that board."""
        async with asyncio.timeout(within):
            while True:
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                if self.take(json.loads(msg.data)) and check(self.data):
                    return self.data
