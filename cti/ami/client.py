"""A guarded AMI connection built from panoramisk's protocol pieces.

panoramisk 1.4 supplies the message parser (``Message``), the action
formatting and ActionID matching (``Action``) and the protocol skeleton
(``AMIProtocol.send``). Its ``Manager`` is not used: it reports a failed login
as success-less silence, retries without backoff, pings without noticing a
dead peer, replays pending actions (a duplicate Originate is a duplicate
call), decodes each TCP chunk separately (splitting UTF-8 caller names) and
dispatches events as unordered tasks. This module replaces exactly those
parts:

* frames are cut on ``\\r\\n\\r\\n`` from bytes and only then decoded
  (``framing``); events the consumer does not use can be skipped undecoded;
* events go, in order, into one ``asyncio.Queue`` consumed by one task;
* every action has a timeout that also forgets it; nothing is ever replayed;
* a failed login raises ``AmiAuthError``; reconnects back off exponentially;
* a ping watchdog aborts a connection whose peer stopped answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from cti.ami.framing import (
    MAX_FRAME_BYTES,
    FrameBuffer,
    MalformedFrame,
    event_name,
    parse_message,
)

log = logging.getLogger(__name__)

#: the client itself waits for it after each login
BOOT_EVENT = "FullyBooted"


class AmiError(RuntimeError):
    """An AMI action failed or the connection is unusable."""


class AmiAuthError(AmiError):
    """Asterisk refused our credentials: fatal, retrying will not help."""


class AmiActionTimeout(AmiError):
    pass


@dataclass(frozen=True, slots=True)
class Connected:
    """Queued for the consumer right after each successful login."""

    generation: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    generation: int
    reason: str


AmiQueueItem: TypeAlias = Message | Connected | Disconnected


class FramedAmiProtocol(AMIProtocol):  # type: ignore[misc]
    """AMIProtocol that frames on complete messages before decoding."""

    client: AmiClient

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.frames = FrameBuffer(MAX_FRAME_BYTES)
        self.banner = b""
        self.banner_seen = False

    def data_received(self, data: bytes) -> None:
        if not self.banner_seen:
            data = self.banner + data
            end = data.find(b"\r\n")
            if end < 0:
                self.banner = data
                if len(data) > MAX_FRAME_BYTES:
                    self._give_up()
                return
            self.version = data[:end].decode("utf-8", "replace")
            self.banner, self.banner_seen = b"", True
            data = data[end + 2 :]
        client = self.client
        wanted = client.wanted
        for frame in self.frames.feed(data):
            # an event nobody uses is dropped undecoded, unless an action is
            # pending (its list events must reach it, whatever their name)
            if wanted is not None and not self.responses:
                name = event_name(frame)
                if name is not None and name not in wanted:
                    client.skipped += 1
                    continue
            try:
                message = parse_message(frame)
            except MalformedFrame as exc:  # a malformed frame must not kill the connection
                log.warning("%s: ignored", exc)
                continue
            if message is not None:
                self.handle_message(message)
        if self.frames.overflowed:
            self._give_up()

    def _give_up(self) -> None:
        log.error("AMI frame larger than %d bytes: dropping connection", MAX_FRAME_BYTES)
        self.transport.abort()

    def handle_message(self, message: Message) -> None:
        if not self.responses:  # no action waits: an event, or a late reply
            if "event" in message:
                self.client.event_received(message)
            return
        pending = self.responses.get(message.id)
        if pending is None and message.action_id:
            pending = self.responses.get(message.action_id)
        if pending is not None:
            if pending.as_list and message.get("Response") in ("Error", "Failure", "Fail"):
                # panoramisk would wait forever for a list that never comes
                if not pending.future.done():
                    pending.future.set_result([message])
                self._forget(pending)
            elif pending.add_message(message):
                self._forget(pending)
        elif "event" in message:
            self.client.event_received(message)

    def _forget(self, action: actions.Action) -> None:
        self.responses.pop(action.id, None)
        if action.action_id:
            self.responses.pop(action.action_id, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiError("AMI connection lost"))
        self.responses.clear()
        self.client.connection_lost(self, exc)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()


class AmiClient:
    """One AMI connection with login, watchdog, reconnect and ordered events."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        action_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 3.0,
        reconnect_max: float = 10.0,
        connect_timeout: float = 5.0,
        boot_timeout: float = 60.0,
        events: Iterable[str] | None = None,
    ) -> None:
        """``events``: the names of the events the consumer uses (None: all);
        others are skipped before they are decoded and counted in ``skipped``."""
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.action_timeout = action_timeout
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reconnect_max = reconnect_max
        self.connect_timeout = connect_timeout
        self.boot_timeout = boot_timeout
        self.wanted: frozenset[bytes] | None = (
            None if events is None else frozenset(n.encode() for n in {*events, BOOT_EVENT})
        )
        self.skipped = 0
        self._booted = asyncio.Event()
        self.events: asyncio.Queue[AmiQueueItem] = asyncio.Queue()
        self.logged_in = asyncio.Event()
        self.generation = 0
        self._protocol: FramedAmiProtocol | None = None
        self._lost: asyncio.Event = asyncio.Event()

    # ------------------------------------------------------------------ life
    async def run(self, *, first_connect_retries: int | None = None) -> None:
        """Connect, log in, watch; reconnect with backoff until cancelled.

        Raises ``AmiAuthError`` on refused credentials. With
        ``first_connect_retries`` set, gives up with ``AmiError`` when the
        first connection cannot be made after that many attempts.
        """
        delay = 0.2
        attempts = 0
        while True:
            try:
                await self._connect_and_login()
            except AmiAuthError:
                raise
            except (OSError, AmiError, TimeoutError) as exc:
                attempts += 1
                if (
                    first_connect_retries is not None
                    and self.generation == 0
                    and attempts > first_connect_retries
                ):
                    raise AmiError(f"cannot reach AMI at {self.host}:{self.port}: {exc}") from exc
                log.warning("AMI connect failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self.reconnect_max)
                continue
            delay = 0.2
            attempts = 0
            await self._watch()

    async def _connect_and_login(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._booted = asyncio.Event()

        def factory() -> FramedAmiProtocol:
            protocol = FramedAmiProtocol()
            protocol.client = self
            return protocol

        async with asyncio.timeout(self.connect_timeout):
            _, protocol = await loop.create_connection(factory, self.host, self.port)
        self._protocol = protocol
        protocol.encoding = "utf-8"
        try:
            reply = await self._send(
                {
                    "Action": "Login",
                    "Username": self.username,
                    "Secret": self.secret,
                    "Events": "on",
                },
                as_list=False,
                answer_within=self.connect_timeout,
            )
        except BaseException:
            protocol.close()
            raise
        if reply.get("Response") != "Success":
            protocol.close()
            raise AmiAuthError(
                f"AMI login as {self.username!r} at {self.host}:{self.port} refused: "
                f"{reply.get('Message', 'no reason given')}"
            )
        # Asterisk accepts logins while it is still loading modules (app_queue
        # may not be there yet): resync only after its FullyBooted event, which
        # it sends to every session once booted.
        try:
            async with asyncio.timeout(self.boot_timeout):
                await self._booted.wait()
        except TimeoutError:
            protocol.close()
            raise AmiError(f"Asterisk did not report FullyBooted in {self.boot_timeout}s") from None
        self.generation += 1
        self.logged_in.set()
        log.info("AMI logged in (%s), generation %d", protocol.version, self.generation)
        self.events.put_nowait(Connected(self.generation))

    async def _watch(self) -> None:
        """Ping until the connection dies; abort it when pings go unanswered."""
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ping_interval):
                    await self._lost.wait()
            if self._lost.is_set():
                break
            try:
                await self._send({"Action": "Ping"}, as_list=False, answer_within=self.ping_timeout)
            except (AmiError, TimeoutError):
                log.error("AMI peer stopped answering pings: dropping the connection")
                if self._protocol is not None:
                    self._protocol.transport.abort()
                await self._lost.wait()

    def connection_lost(self, protocol: FramedAmiProtocol, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self.logged_in.clear()
        self._protocol = None
        self._lost.set()
        if self.generation:
            self.events.put_nowait(Disconnected(self.generation, str(exc or "closed")))

    def event_received(self, message: Message) -> None:
        if message.get("Event") == BOOT_EVENT:
            self._booted.set()
        self.events.put_nowait(message)

    async def close(self) -> None:
        if self._protocol is not None:
            with contextlib.suppress(Exception):
                await self._send({"Action": "Logoff"}, as_list=False, answer_within=1.0)
            if self._protocol is not None:
                self._protocol.close()

    # ------------------------------------------------------------------ actions
    async def action(
        self, fields: Mapping[str, Any], *, answer_within: float | None = None
    ) -> Message:
        """Send one action, return its response; raises AmiError on failure."""
        reply = await self._send(fields, as_list=False, answer_within=answer_within)
        if reply.get("Response") not in ("Success", "Follows", "Goodbye"):
            raise AmiError(f"{fields.get('Action')} failed: {reply.get('Message', reply)}")
        return reply

    async def list_action(
        self, fields: Mapping[str, Any], *, answer_within: float | None = None
    ) -> list[Message]:
        """Send an action that answers with an event list; returns the events."""
        replies = await self._send(fields, as_list=True, answer_within=answer_within)
        head = replies[0]
        if head.get("Response") in ("Error", "Failure", "Fail"):
            raise AmiError(f"{fields.get('Action')} failed: {head.get('Message', head)}")
        return [m for m in replies if "event" in m and not m["event"].endswith("Complete")]

    async def _send(
        self, fields: Mapping[str, Any], *, as_list: bool, answer_within: float | None
    ) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiError("AMI not connected")
        action = actions.Action(dict(fields), as_list=as_list)
        future = protocol.send(action, as_list=as_list)
        try:
            async with asyncio.timeout(answer_within or self.action_timeout):
                return await future
        except TimeoutError:
            protocol._forget(action)
            raise AmiActionTimeout(
                f"{fields.get('Action')} got no answer in {answer_within or self.action_timeout}s"
            ) from None
