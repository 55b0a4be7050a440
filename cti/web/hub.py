"""Fan-out of JSON messages to WebSockets, one send queue per socket.

A socket whose peer stopped reading is closed with 1013 ("too slow") instead
of delaying anyone else; the page reconnects and resyncs. "Stopped reading"
is measured, not guessed from the queue alone, because the kernel's send
buffer absorbs hundreds of kilobytes before a send ever blocks:

* the frames waiting for a socket are bounded in number and in bytes, counting
  the queue, the transport's buffer and the kernel's unsent bytes (``SIOCOUTQ``);
* a frame the writer could not hand over within ``send_timeout_s``, or kernel
  bytes that have not moved for ``send_timeout_s``, mean the peer is stuck.

The close sends a close frame (1013) within ``close_grace_s``; a peer that does
not take even that has its connection aborted.

One sweep task per hub measures every socket each ``check_every_s`` (not a
task per socket: a thousand idle sockets would wake the loop thousands of
times a second); a socket that was sent nothing and holds nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import socket
import struct
import termios
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cti.config import Settings

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
WS_TOO_SLOW = 1013
#: what a page may ask for when it opens its socket (``/ws?feed=``): the frame
#: kinds it does not show and is not sent (a wallboard shows no single call)
FEEDS: dict[str, frozenset[str]] = {
    "": frozenset(),
    "wallboard": frozenset({"call.update", "agent.state"}),
}


@dataclass(frozen=True, slots=True)
class HubLimits:
    """Bounds on what may wait for one socket, and how many sockets a session opens."""

    pending_frames: int = 256
    pending_bytes: int = 1 << 20
    send_timeout_s: float = 10.0
    check_every_s: float = 0.5
    close_grace_s: float = 5.0
    sockets_per_session: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> HubLimits:
        return cls(
            pending_frames=settings.ws_pending_frames,
            pending_bytes=settings.ws_pending_bytes,
            send_timeout_s=settings.ws_send_timeout_s,
            sockets_per_session=settings.web_sockets_per_session,
        )


class TooManySockets(RuntimeError):
    """A session already has as many WebSockets open as allowed."""


def kernel_unsent(ws: web.WebSocketResponse) -> int:
    """Bytes the kernel holds for the peer (unsent or unacknowledged); 0 if unknown."""
    sock = ws.get_extra_info("socket")
    if sock is None or sock.fileno() < 0 or sock.type != socket.SOCK_STREAM:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(raw, "little", signed=True)


def text_frame(payload: bytes) -> bytes:
    """A whole WebSocket text frame as a server sends it (RFC 6455 5.2: final,
    unmasked, uncompressed, which RFC 7692 allows on any connection)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class Subscriber:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        username: str,
        role: str,
        limits: HubLimits,
        session: str = "",
        transport: asyncio.BaseTransport | None = None,
        feed: str = "",
    ) -> None:
        self.ws = ws
        self.skips = FEEDS[feed]  # frame kinds this socket's page does not want
        self.greeted = False  # had its first frame of a series (see Hub.to_supervisors)
        self.username = username
        self.role = role
        self.session = session  # the login session's token: closed with it
        self.transport = transport
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=limits.pending_frames)
        self.queued_bytes = 0
        self.sending_since: float | None = None  # loop time the current send began
        self.writer: asyncio.Task[None] | None = None
        self.offered = 0  # frames offered so far (queued or written)
        # what the sweep saw last: frames offered, kernel bytes unsent, since when stuck
        self.swept_offered = 0
        self.last_unsent = 0
        self.stuck_since: float | None = None

    async def write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.outbox.get()
            if frame is None:
                return
            self.sending_since = loop.time()
            await self.ws.send_str(frame)
            self.sending_since = None
            self.queued_bytes -= len(frame)

    def can_write_now(self) -> bool:
        """Nothing waits before a new frame: it may go straight to the transport."""
        return (
            self.outbox.empty()
            and self.sending_since is None
            and isinstance(self.transport, asyncio.WriteTransport)
            and not self.transport.is_closing()
            and not self.ws.closed
        )

    def pending_bytes(self) -> int:
        buffered = 0
        if isinstance(self.transport, asyncio.WriteTransport):
            with contextlib.suppress(Exception):
                buffered = self.transport.get_write_buffer_size()
        return self.queued_bytes + buffered + kernel_unsent(self.ws)


@dataclass(frozen=True, slots=True)
class _Burst:
    """A frame of this loop turn: text, wire bytes, the sockets it is for (None:
    every supervisor's); ``skippable``: a socket's feed may decline its kind."""

    kind: str
    frame: str
    wire: bytes
    subs: list[Subscriber] | None
    skippable: bool


class Hub:
    def __init__(self, limits: HubLimits | None = None, *, queue_depth: int | None = None) -> None:
        limits = limits or HubLimits()
        if queue_depth is not None:
            limits = HubLimits(**{**_fields(limits), "pending_frames": queue_depth})
        self.limits = limits
        self._by_user: dict[str, set[Subscriber]] = defaultdict(set)
        self._supervisors: set[Subscriber] = set()
        # closings of sockets that stopped reading: owned here, awaited by close_all
        self._closing: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None  # runs while a socket is attached
        # frames of this loop turn, written together (see to_user, to_supervisors)
        self._burst: list[_Burst] = []
        self._flush: asyncio.Handle | None = None

    def check_room(self, session: str) -> None:
        """Raise :class:`TooManySockets` if ``session`` may not open another socket."""
        if not session:
            return
        count = sum(1 for group in self._by_user.values() for s in group if s.session == session)
        if count >= self.limits.sockets_per_session:
            raise TooManySockets(
                f"this session already has {count} WebSockets open "
                f"(at most {self.limits.sockets_per_session}): close one first"
            )

    def attach(
        self,
        ws: web.WebSocketResponse,
        username: str,
        role: str,
        session: str = "",
        transport: asyncio.BaseTransport | None = None,
        feed: str = "",
    ) -> Subscriber:
        sub = Subscriber(ws, username, role, self.limits, session, transport, feed)
        sub.writer = asyncio.create_task(sub.write_loop(), name=f"ws-writer-{username}")
        self._by_user[username].add(sub)
        if role in ("supervisor", "admin"):
            self._supervisors.add(sub)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="ws-sweep")
        return sub

    def _forget(self, sub: Subscriber) -> None:
        group = self._by_user.get(sub.username)
        if group is not None:
            group.discard(sub)
            if not group:
                del self._by_user[sub.username]
        self._supervisors.discard(sub)

    def is_attached(self, sub: Subscriber) -> bool:
        return sub in self._by_user.get(sub.username, ())

    async def detach(self, sub: Subscriber) -> None:
        self._forget(sub)
        task = sub.writer
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def clients_by_role(self) -> dict[str, int]:
        """Open sockets by role (the operations metrics)."""
        return dict(Counter(sub.role for subs in self._by_user.values() for sub in subs))

    @staticmethod
    def encode(kind: str, data: dict[str, Any]) -> str:
        return json.dumps({"v": PROTOCOL_VERSION, "type": kind, "data": data}, ensure_ascii=False)

    def to_user(self, username: str, kind: str, data: dict[str, Any]) -> int:
        """One frame, encoded and framed once, to every socket of ``username``.

        Written at the end of the loop turn with the turn's other frames (one
        write per socket): an agent's page may be open on many sockets, and a
        pop, the call's updates and the agent's state come in the same turn.
        Returns the sockets it is for.
        """
        subs = self._by_user.get(username)
        if not subs:
            return 0
        frame = self.encode(kind, data)
        self._queue_burst(_Burst(kind, frame, text_frame(frame.encode()), list(subs), False))
        return len(subs)

    def to_supervisors(
        self,
        kind: str,
        data: dict[str, Any],
        first: Callable[[], tuple[str, dict[str, Any]]] | None = None,
    ) -> int:
        """One frame, encoded once, to every supervisor's socket that wants it.

        ``first``: the frame (kind, data) for a socket that has had no frame of
        this series yet (a page just opened: the whole board, where the others
        get a delta); built and encoded once, however many sockets are new.

        The frames of one loop turn (an AMI event's effects, a burst of events,
        a resync) go out together at the end of the turn: one write per socket,
        not one per frame and socket (with a hundred supervisor sockets, these
        writes were what kept the loop busiest). Returns the sockets it is for.
        """
        subs = [sub for sub in self._supervisors if kind not in sub.skips]
        if not subs:
            return 0
        if first is not None:
            new = [sub for sub in subs if not sub.greeted]
            if new:
                self._add_to_burst(*first(), only=new)
                for sub in new:
                    sub.greeted = True
                greeted = [sub for sub in subs if sub.greeted and sub not in new]
                if greeted:
                    self._add_to_burst(kind, data, only=greeted)
                return len(subs)
        self._add_to_burst(kind, data, only=None)
        return len(subs)

    def _add_to_burst(self, kind: str, data: dict[str, Any], only: list[Subscriber] | None) -> None:
        """Encode and frame once; ``only``: the sockets it is for (None: all who want it)."""
        frame = self.encode(kind, data)
        self._queue_burst(_Burst(kind, frame, text_frame(frame.encode()), only, True))

    def _queue_burst(self, item: _Burst) -> None:
        self._burst.append(item)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the frames of this turn now (one write per socket), in order."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        burst, self._burst = self._burst, []
        if not burst:
            return
        per_socket: dict[Subscriber, list[tuple[str, bytes]]] = {}
        for item in burst:
            for sub in self._supervisors if item.subs is None else item.subs:
                if not (item.skippable and item.kind in sub.skips):
                    per_socket.setdefault(sub, []).append((item.frame, item.wire))
        for sub, mine in per_socket.items():
            if len(mine) > 1 and sub.can_write_now():
                wire = b"".join(wire for _, wire in mine)
                if self._offer(sub, "", wire):
                    sub.offered += len(mine) - 1
                continue
            for frame, wire in mine:
                if not self._offer(sub, frame, wire):
                    break

    def send(self, sub: Subscriber, kind: str, data: dict[str, Any]) -> bool:
        self.flush()  # the frames of this turn go first: each socket keeps its order
        return self._offer(sub, self.encode(kind, data))

    def _offer(self, sub: Subscriber, frame: str, wire: bytes | None = None) -> bool:
        """Queue ``frame`` for ``sub``; or, given it ready framed (``wire``) and
        nothing waiting for the socket, write it to the transport at once."""
        if not self.is_attached(sub):
            return False
        if wire is not None and sub.can_write_now():
            transport: asyncio.WriteTransport = sub.transport  # type: ignore[assignment]
            buffered = transport.get_write_buffer_size() + len(wire)
            if buffered > self.limits.pending_bytes:
                self._too_slow(sub, f"{buffered} bytes waiting")
                return False
            transport.write(wire)
            sub.offered += 1
            return True
        if sub.queued_bytes + len(frame) > self.limits.pending_bytes:
            self._too_slow(sub, f"{sub.queued_bytes + len(frame)} bytes waiting")
            return False
        try:
            sub.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self._too_slow(sub, f"{sub.outbox.qsize()} frames waiting")
            return False
        sub.queued_bytes += len(frame)
        sub.offered += 1
        return True

    async def _sweep(self) -> None:
        """Every ``check_every_s``, check every socket; stop when none is left."""
        loop = asyncio.get_running_loop()
        while self._by_user:
            await asyncio.sleep(self.limits.check_every_s)
            now = loop.time()
            for subs in list(self._by_user.values()):
                for sub in list(subs):
                    self._check(sub, now)

    def _check(self, sub: Subscriber, now: float) -> None:
        """Measure the writer's progress; close the socket when the peer is stuck."""
        idle = (
            sub.offered == sub.swept_offered
            and sub.last_unsent == 0
            and sub.queued_bytes == 0
            and sub.sending_since is None
        )
        if idle:
            return  # sent nothing since all it had was taken: nothing to measure
        sub.swept_offered = sub.offered
        limits = self.limits
        pending = sub.pending_bytes()
        unsent = pending - sub.queued_bytes
        if pending > limits.pending_bytes:
            self._too_slow(sub, f"{pending} bytes not taken by the peer")
            return
        if sub.sending_since is not None and now - sub.sending_since > limits.send_timeout_s:
            self._too_slow(sub, f"a frame not taken in {limits.send_timeout_s:g}s")
            return
        if unsent > 0 and unsent >= sub.last_unsent:
            sub.stuck_since = now if sub.stuck_since is None else sub.stuck_since
            if now - sub.stuck_since > limits.send_timeout_s:
                self._too_slow(sub, f"{unsent} bytes not moving for {limits.send_timeout_s:g}s")
                return
        else:
            sub.stuck_since = None
        sub.last_unsent = unsent

    def _too_slow(self, sub: Subscriber, why: str) -> None:
        if not self.is_attached(sub):
            return
        log.warning("WebSocket of %s is not reading (%s): closing it with 1013", sub.username, why)
        self._forget(sub)
        if sub.writer is not None:
            sub.writer.cancel()
        task = asyncio.create_task(self._close_slow(sub), name=f"ws-close-{sub.username}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_slow(self, sub: Subscriber) -> None:
        try:
            async with asyncio.timeout(self.limits.close_grace_s):
                await sub.ws.close(code=WS_TOO_SLOW, message=b"too slow")
        except TimeoutError:
            log.warning("WebSocket of %s did not take its close frame: aborting", sub.username)
        except Exception:
            log.exception("closing the WebSocket of %s failed", sub.username)
        finally:
            transport = sub.transport
            # a peer that takes nothing keeps our buffer (and its memory): drop it
            if isinstance(transport, asyncio.WriteTransport):
                with contextlib.suppress(Exception):
                    if transport.get_write_buffer_size() > 0:
                        transport.abort()

    @property
    def supervisor_count(self) -> int:
        """Sockets of supervisors and admins (who get the wallboard)."""
        return len(self._supervisors)

    def sockets_of(self, username: str) -> list[Subscriber]:
        return list(self._by_user.get(username, ()))

    async def close(self, sub: Subscriber, code: int, message: str, flush_s: float = 2.0) -> None:
        """Send what is queued for ``sub`` (within ``flush_s``), then close its socket."""
        self.flush()  # this turn's frames first
        self._forget(sub)
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
        self.flush()
        for subs in list(self._by_user.values()):
            for sub in list(subs):
                with contextlib.suppress(TimeoutError, Exception):
                    async with asyncio.timeout(self.limits.close_grace_s):
                        await sub.ws.close(code=1001, message=b"server shutdown")
                await self.detach(sub)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)


def _fields(limits: HubLimits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in HubLimits.__slots__}
