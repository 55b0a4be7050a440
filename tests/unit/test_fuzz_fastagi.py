"""Property-based tests of the FastAGI request parser and replies (odd DTMF included).

Bytes are fed to a real ``asyncio.StreamReader`` with the server's line limit,
as ``asyncio.start_server`` would hand them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.fastagi import MAX_LINE, AgiError, AgiSession, FastAgiServer

FAST = settings(max_examples=200, derandomize=True, deadline=None)

agi_keys = st.from_regex(r"agi_[a-z_]{1,20}", fullmatch=True)
agi_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60
)


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_LINE)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def read_env(data: bytes) -> dict[str, str]:
    server = FastAgiServer("127.0.0.1", 0, {}, header_timeout=1.0)

    async def read() -> dict[str, str]:
        return await server._read_env(reader_of(data))

    return asyncio.run(read())


@FAST
@given(st.dictionaries(agi_keys, agi_values, max_size=30))
def test_a_well_formed_header_block_is_read_whole(headers: dict[str, str]) -> None:
    block = "".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n"
    env = read_env(block.encode())
    assert env == {k: v.strip() for k, v in headers.items()}


@FAST
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.one_of(
                st.builds(lambda k, v: f"{k}: {v}", agi_keys, agi_values),
                st.text(max_size=40),
                st.just("agi_request: " + "x" * (MAX_LINE + 10)),
            ),
            max_size=8,
        ).map(lambda lines: "\n".join(lines).encode()),
    )
)
@example(b"agi_request: " + b"x" * MAX_LINE + b"\n\n")  # a line over the limit
@example(b"".join(b"agi_k%d: v\n" % n for n in range(300)) + b"\n")  # too many lines
@example(b"agi_network_script: \xff\xfe\n\n")  # not UTF-8
@example(b"no colon here\n\n")
@example(b"agi_request: half a line")  # the connection closes mid-header
def test_any_bytes_give_headers_or_an_agi_error(data: bytes) -> None:
    try:
        env = read_env(data)
    except AgiError as exc:
        assert str(exc)  # a clear reason
        return
    assert all(k.startswith("agi_") and isinstance(v, str) for k, v in env.items())
    assert len(env) <= 201


class _Writer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    async def drain(self) -> None:
        pass


def get_data(reply: bytes) -> tuple[str, bool]:
    async def run() -> tuple[str, bool]:
        writer: Any = _Writer()
        session = AgiSession(reader_of(reply), writer, {}, command_timeout=1.0)
        return await session.get_data("enter-account", 3000, 8)

    return asyncio.run(run())


@FAST
@given(
    st.text(max_size=20).filter(lambda t: "\n" not in t and "\r" not in t),
    st.sampled_from(["", " (timeout)", " (", ")", " (x) (y)"]),
)
@example("12\u0663\u00b2*#", "")  # Arabic-Indic three, superscript two
@example("1" * 5000, "")
@example("-1", "")
def test_odd_dtmf_replies_give_ascii_digits_or_an_agi_error(result: str, tail: str) -> None:
    reply = f"200 result={result}{tail}\n".encode()
    try:
        digits, timed_out = get_data(reply)
    except AgiError as exc:
        assert str(exc)
        return
    assert all(c in "0123456789*#" for c in digits), digits
    assert isinstance(timed_out, bool)


@pytest.mark.parametrize("garbage", [b"500 nope\n", b"\xff\xfe\n", b"200 resul\n", b""])
def test_an_unexpected_reply_is_an_agi_error(garbage: bytes) -> None:
    with pytest.raises(AgiError):
        get_data(garbage)


async def _session(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            writer.write_eof()
        async with asyncio.timeout(5):
            return await reader.read()  # the server answers, then closes
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_any_header_block_over_a_socket_ends_the_session_and_the_server_serves_on() -> None:
    served: list[str] = []

    async def echo(session: AgiSession) -> None:
        served.append(session.uniqueid)
        await session.set_variable("HOTLINE_TEST", session.caller_number)

    server = FastAgiServer("127.0.0.1", 0, {"echo": echo}, header_timeout=0.5)
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    try:

        @settings(max_examples=60, derandomize=True, deadline=None, database=None)
        @given(
            st.lists(
                st.one_of(
                    st.builds(lambda k, v: f"{k}: {v}", agi_keys, agi_values),
                    st.just("agi_network_script: echo"),
                    st.text(max_size=30).filter(lambda t: "\n" not in t),
                ),
                max_size=6,
            ).map(lambda lines: ("\n".join(lines) + "\n\n").encode()),
        )
        @example(b"agi_network_script: echo\nagi_uniqueid: " + b"x" * (MAX_LINE + 1) + b"\n\n")
        @example(b"agi_network_script: /echo/\nagi_callerid: \xff\n\n")
        def run(data: bytes) -> None:
            before = server.completed + server.failed
            asyncio.run_coroutine_threadsafe(_session(port, data), loop).result(10)
            # every session is counted as ended, well or not
            deadline = time.monotonic() + 5
            while server.completed + server.failed == before and time.monotonic() < deadline:
                time.sleep(0.005)
            assert server.completed + server.failed == before + 1

        await asyncio.to_thread(run)
        # a well-formed request is still served
        served.clear()
        block = b"agi_network_script: echo\nagi_uniqueid: 1.1\nagi_callerid: 100\n\n"
        reply = asyncio.create_task(_session(port, block + b"200 result=1\n"))
        assert await reply == b'SET VARIABLE HOTLINE_TEST "100"\n'
        assert served == ["1.1"]
        assert server.active == 0
    finally:
        await server.stop()
