"""A scripted AMI server on loopback for adapter tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


def parse(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode().split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out


class FakeAmi:
    """Accepts one user/secret; answers Ping, list actions, or stays silent."""

    def __init__(self, secret: str = "s3cret") -> None:
        self.secret = secret
        self.silent = False  # stop answering anything (a hung peer)
        self.booted = True  # False: Asterisk still loading modules (no FullyBooted yet)
        self.writers: list[asyncio.StreamWriter] = []
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self.handlers: dict[str, Callable[[dict[str, str]], list[bytes]]] = {}
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> FakeAmi:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self.drop_all()
        with contextlib.suppress(Exception):
            await self.server.wait_closed()

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    def send_raw(self, data: bytes) -> None:
        for writer in self.writers:
            writer.write(data)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action = parse(block)
                self.actions.append(action)
                if self.silent:
                    continue
                for reply in self._reply(action):
                    writer.write(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    def _reply(self, action: dict[str, str]) -> list[bytes]:
        aid = action.get("ActionID", "")
        name = action.get("Action", "")
        if name == "Login":
            if action.get("Secret") == self.secret:
                self.logins += 1
                accepted = frame(
                    Response="Success", ActionID=aid, Message="Authentication accepted"
                )
                if not self.booted:
                    return [accepted]
                return [accepted, frame(Event="FullyBooted", Status="Fully Booted")]
            return [frame(Response="Error", ActionID=aid, Message="Authentication failed")]
        if name in self.handlers:
            return self.handlers[name](action)
        if name == "Ping":
            return [frame(Response="Success", ActionID=aid, Ping="Pong")]
        return [frame(Response="Error", ActionID=aid, Message="Invalid/unknown command")]
