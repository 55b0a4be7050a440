"""FastAGI answers only Asterisk: the secret in the script path, an allowed peer,
within the session cap (a real server on a loopback port)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ivr.fastagi import AgiSession, FastAgiServer
from ivr.guard import AgiGuard, AgiRefused
from tests.support.waiting import wait_until

SECRET = "s3cret-s3cret-s3cret"


def headers(script: str) -> bytes:
    return (
        f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://x/{script}\n"
        "agi_uniqueid: 1700000000.1\nagi_callerid: 15550100001\n\n"
    ).encode()


class Served:
    def __init__(self) -> None:
        self.sessions: list[str] = []
        self.release = asyncio.Event()

    async def handler(self, session: AgiSession) -> None:
        self.sessions.append(session.uniqueid)
        await session.set_variable("HOTLINE_X", "1")
        await self.release.wait()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Served, FastAgiServer]]:
    served = Served()
    server = FastAgiServer(
        "127.0.0.1",
        0,
        {"ivr": served.handler},
        guard=AgiGuard.build(SECRET, ["127.0.0.1", "::1"], max_sessions=2),
    )
    await server.start()
    assert server._server is not None
    server.port = server._server.sockets[0].getsockname()[1]
    yield served, server
    served.release.set()
    await idle(server)
    await server.stop()


async def idle(server: FastAgiServer) -> None:
    await wait_until(lambda: server.active == 0, within=5, what="sessions to end")


async def open_session(
    server: FastAgiServer, script: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(headers(script))
    await writer.drain()
    return reader, writer


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def first_line(reader: asyncio.StreamReader) -> bytes:
    """The server's first line; b"" when it closed (or reset) the connection."""
    try:
        async with asyncio.timeout(5):
            return await reader.readline()
    except ConnectionResetError:
        return b""


async def test_a_request_without_the_secret_is_closed_unanswered(served) -> None:
    calls, server = served
    for script in ("ivr", "wrong-secret/ivr", f"{SECRET[:-1]}/ivr", f"{SECRET}/"):
        reader, writer = await open_session(server, script)
        assert await first_line(reader) == b""  # closed, not one command sent
        await close(writer)
    assert calls.sessions == []
    assert server.refused == 4


async def test_a_request_with_the_secret_runs_its_route(served) -> None:
    calls, server = served
    reader, writer = await open_session(server, f"{SECRET}/ivr")
    assert (await first_line(reader)).startswith(b"SET VARIABLE HOTLINE_X")
    assert calls.sessions == ["1700000000.1"]
    await close(writer)


async def test_sessions_beyond_the_cap_are_refused_until_one_ends(served) -> None:
    calls, server = served
    open_ = [await open_session(server, f"{SECRET}/ivr") for _ in range(2)]
    for reader, _ in open_:
        assert (await first_line(reader)).startswith(b"SET VARIABLE")
    reader, writer = await open_session(server, f"{SECRET}/ivr")
    assert await first_line(reader) == b""
    await close(writer)
    assert server.refused == 1 and len(calls.sessions) == 2
    # one session ends: a new one is taken again
    first_reader, first_writer = open_[0]
    await close(first_writer)
    calls.release.set()
    await close(open_[1][1])
    await idle(server)
    calls.release.clear()
    reader, writer = await open_session(server, f"{SECRET}/ivr")
    assert (await first_line(reader)).startswith(b"SET VARIABLE")
    await close(writer)


async def test_a_peer_outside_the_allow_list_is_refused_before_anything_is_read() -> None:
    served = Served()
    server = FastAgiServer(
        "127.0.0.1",
        0,
        {"ivr": served.handler},
        guard=AgiGuard.build(SECRET, ["192.0.2.10"], max_sessions=5),
    )
    await server.start()
    assert server._server is not None
    server.port = server._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await open_session(server, f"{SECRET}/ivr")
        assert await first_line(reader) == b""
        await close(writer)
        assert served.sessions == [] and server.refused == 1
    finally:
        await server.stop()


def test_guard_rules() -> None:
    guard = AgiGuard.build(SECRET, ["127.0.0.1", "10.1.0.0/16"], max_sessions=1)
    assert guard.route(f"/{SECRET}/survey") == "survey"
    assert guard.peer_allowed("10.1.2.3") and guard.peer_allowed("::ffff:127.0.0.1")
    assert not guard.peer_allowed("10.2.0.1") and not guard.peer_allowed("not an address")
    with pytest.raises(AgiRefused):
        guard.admit_connection("127.0.0.1", active=2)
    guard.admit_connection("127.0.0.1", active=1)
    for bad in ("short", "has space in it!!!!!", ""):
        with pytest.raises(ValueError):
            AgiGuard.build(bad, ["127.0.0.1"], 1)
