"""Fan-out of JSON messages to WebSockets, one send queue per socket.

A socket whose queue fills up (a browser that stopped reading) is closed
instead of delaying anyone else; it reconnects and resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, defaultdict
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1


class Subscriber:
    def __init__(
        self, ws: web.WebSocketResponse, username: str, role: str, depth: int, session: str = ""
    ) -> None:
        self.ws = ws
        self.username = username
        self.role = role
        self.session = session  # the login session's token: closed with it
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=depth)
        self.writer: asyncio.Task[None] | None = None

    async def write_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is None:
                return
            await self.ws.send_str(frame)


class Hub:
    def __init__(self, queue_depth: int = 256) -> None:
        self.queue_depth = queue_depth
        self._by_user: dict[str, set[Subscriber]] = defaultdict(set)
        self._supervisors: set[Subscriber] = set()
        # closings of sockets that stopped reading: owned here, awaited by close_all
        self._closing: set[asyncio.Task[None]] = set()

    def attach(
        self, ws: web.WebSocketResponse, username: str, role: str, session: str = ""
    ) -> Subscriber:
        sub = Subscriber(ws, username, role, self.queue_depth, session)
        sub.writer = asyncio.create_task(sub.write_loop(), name=f"ws-writer-{username}")
        self._by_user[username].add(sub)
        if role in ("supervisor", "admin"):
            self._supervisors.add(sub)
        return sub

    async def detach(self, sub: Subscriber) -> None:
        self._by_user[sub.username].discard(sub)
        if not self._by_user[sub.username]:
            del self._by_user[sub.username]
        self._supervisors.discard(sub)
        if sub.writer is not None:
            sub.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sub.writer

    def clients_by_role(self) -> dict[str, int]:
        """Open sockets by role (the operations metrics)."""
        return dict(Counter(sub.role for subs in self._by_user.values() for sub in subs))

    @staticmethod
    def encode(kind: str, data: dict[str, Any]) -> str:
        return json.dumps({"v": PROTOCOL_VERSION, "type": kind, "data": data}, ensure_ascii=False)

    def to_user(self, username: str, kind: str, data: dict[str, Any]) -> int:
        frame = self.encode(kind, data)
        return sum(self._offer(sub, frame) for sub in list(self._by_user.get(username, ())))

    def to_supervisors(self, kind: str, data: dict[str, Any]) -> int:
        frame = self.encode(kind, data)
        return sum(self._offer(sub, frame) for sub in list(self._supervisors))

    def send(self, sub: Subscriber, kind: str, data: dict[str, Any]) -> bool:
        return self._offer(sub, self.encode(kind, data))

    def _offer(self, sub: Subscriber, frame: str) -> bool:
        try:
            sub.outbox.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            log.warning("WebSocket of %s is not reading: closing it", sub.username)
            self._by_user[sub.username].discard(sub)
            self._supervisors.discard(sub)
            if sub.writer is not None:
                sub.writer.cancel()
            task = asyncio.create_task(self._close_slow(sub), name=f"ws-close-{sub.username}")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            return False

    @property
    def supervisor_count(self) -> int:
        """Sockets of supervisors and admins (who get the wallboard)."""
        return len(self._supervisors)

    @staticmethod
    async def _close_slow(sub: Subscriber) -> None:
        try:
            await sub.ws.close(code=1013, message=b"too slow")
        except Exception:
            log.exception("closing the WebSocket of %s failed", sub.username)

    def sockets_of(self, username: str) -> list[Subscriber]:
        return list(self._by_user.get(username, ()))

    async def close(self, sub: Subscriber, code: int, message: str, flush_s: float = 2.0) -> None:
        """Send what is queued for ``sub`` (within ``flush_s``), then close its socket."""
        self._by_user[sub.username].discard(sub)
        if not self._by_user[sub.username]:
            del self._by_user[sub.username]
        self._supervisors.discard(sub)
        writer = sub.writer
        if writer is not None:
            try:
                sub.outbox.put_nowait(None)  # the writer stops after the queued frames
                async with asyncio.timeout(flush_s):
                    await asyncio.shield(writer)
            except (asyncio.QueueFull, TimeoutError, ConnectionError, RuntimeError):
                writer.cancel()
        await sub.ws.close(code=code, message=message.encode())

    async def close_session(self, token: str, code: int, message: str) -> int:
        """Close every socket opened with the login session ``token`` (logout)."""
        subs = [s for group in self._by_user.values() for s in group if s.session == token]
        for sub in subs:
            await self.close(sub, code, message)
        return len(subs)

    async def close_all(self) -> None:
        for subs in list(self._by_user.values()):
            for sub in list(subs):
                await sub.ws.close(code=1001, message=b"server shutdown")
                await self.detach(sub)
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
