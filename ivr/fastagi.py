"""A small FastAGI server: asyncio streams, timeouts everywhere.

panoramisk's FastAGI loops forever on an early close and swallows
cancellation, so the protocol (a dozen lines of text exchange) is done here.
Each connection gets an ``AgiSession``; a caller hanging up surfaces as
``AgiHangup`` from whatever command was running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ivr.guard import AgiGuard, AgiRefused

log = logging.getLogger(__name__)

MAX_LINE = 8192
_RESULT = re.compile(r"^200 result=(\S*)(?: \((.*?)\))?")


class AgiError(RuntimeError):
    pass


class AgiHangup(AgiError):
    """The channel hung up (or the connection closed) during the session."""


@dataclass(frozen=True, slots=True)
class AgiResult:
    result: str  # the token after "result="
    data: str  # the text in parentheses, e.g. "timeout"
    raw: str

    @property
    def code(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return 0


class AgiSession:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        command_timeout: float,
        on_reply: Callable[[str, float], None] | None = None,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.env = env
        self.command_timeout = command_timeout
        self.on_reply = on_reply  # (verb, seconds) for every answered command

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def caller_number(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def script(self) -> str:
        return self.env.get("agi_network_script", "").strip("/")

    async def command(self, line: str, *, answer_within: float | None = None) -> AgiResult:
        if "\n" in line or "\r" in line:
            raise AgiError(f"AGI command with a line break: {line!r}")
        sent = time.perf_counter()
        self.writer.write(line.encode("utf-8") + b"\n")
        await self.writer.drain()
        while True:
            reply = await self._readline(answer_within or self.command_timeout)
            if reply.startswith("HANGUP"):
                # Asterisk's notice that the channel hung up; a result may follow
                continue
            break
        if reply.startswith("511"):
            raise AgiHangup(f"{line}: channel is dead")
        if reply.startswith("520"):
            while not reply.startswith("520 End"):
                reply = await self._readline(self.command_timeout)
            raise AgiError(f"{line}: usage error")
        match = _RESULT.match(reply)
        if match is None:
            raise AgiError(f"{line}: unexpected reply {reply!r}")
        if self.on_reply is not None:
            self.on_reply(" ".join(line.split(" ", 2)[:2]), time.perf_counter() - sent)
        return AgiResult(match.group(1), match.group(2) or "", reply)

    async def _readline(self, wait_s: float) -> str:
        try:
            async with asyncio.timeout(wait_s):
                raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise AgiHangup("connection closed by Asterisk") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiError("AGI line too long") from exc
        except TimeoutError as exc:
            raise AgiError(f"no AGI reply in {wait_s}s") from exc
        return raw.decode("utf-8", "replace").strip()

    # Convenience wrappers for the commands the flows use.
    async def set_variable(self, name: str, value: str) -> None:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        await self.command(f'SET VARIABLE {name} "{escaped}"')

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play ``prompt`` and collect digits; returns (digits, timed_out)."""
        wait = self.command_timeout + timeout_ms / 1000 + 30
        result = await self.command(
            f"GET DATA {prompt} {timeout_ms} {max_digits}", answer_within=wait
        )
        if result.result == "-1":
            raise AgiHangup("hangup during GET DATA")
        return re.sub(r"[^0-9*#]", "", result.result), result.data == "timeout"

    async def get_variable(self, name: str) -> str | None:
        """A channel (or global) variable; None when it is not set."""
        result = await self.command(f"GET VARIABLE {name}")
        return result.data if result.result == "1" else None

    async def record_file(
        self, path: str, *, max_s: float, silence_s: float, escape_digits: str = "#"
    ) -> AgiResult:
        """Record ``path``.wav after a beep until an escape digit, silence or ``max_s``.

        Asterisk keeps what was recorded when the caller hangs up meanwhile
        (the command then answers -1 and the session ends: ``AgiHangup``).
        """
        silence = max(1, round(silence_s))
        result = await self.command(
            f"RECORD FILE {path} wav {escape_digits} {round(max_s * 1000)} 0 BEEP s={silence}",
            answer_within=self.command_timeout + max_s + 30,
        )
        if result.code == -1:
            if result.data in ("hangup", "waitfor"):
                raise AgiHangup("hangup during RECORD FILE")
            raise AgiError(f"RECORD FILE {path} failed ({result.data or result.raw})")
        return result

    async def stream_file(self, prompt: str, escape_digits: str = '""') -> str:
        """Play ``prompt``; returns the escape digit that stopped it, or ""."""
        result = await self.command(
            f"STREAM FILE {prompt} {escape_digits}", answer_within=self.command_timeout + 60
        )
        if result.code == -1:
            raise AgiHangup("hangup during STREAM FILE")
        return chr(result.code) if 0 < result.code < 128 else ""


AgiHandler = Callable[[AgiSession], Awaitable[None]]


class FastAgiServer:
    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, AgiHandler],
        *,
        header_timeout: float = 5.0,
        command_timeout: float = 10.0,
        session_timeout: float = 600.0,
        guard: AgiGuard | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.routes = routes
        # None: no authentication (tests of the protocol alone); the server
        # of a hotline process always has one (cti.server).
        self.guard = guard
        self.refused = 0
        self._last_refusal_log = -1.0
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.session_timeout = session_timeout
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.active = 0
        self.completed = 0
        self.failed = 0
        # round trips of commands that play nothing (SET VARIABLE...), newest last
        self.reply_times: deque[float] = deque(maxlen=100_000)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, limit=MAX_LINE
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._sessions):
            task.cancel()
        for task in list(self._sessions):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        self.active += 1
        try:
            route = await self._admit(reader, writer)
            if route is None:
                return
            env, script = route
            session = AgiSession(reader, writer, env, self.command_timeout, self._record_reply)
            handler = self.routes.get(script)
            if handler is None:
                log.error("FastAGI: no route for script %r", script)
                self.failed += 1
                return
            async with asyncio.timeout(self.session_timeout):
                await handler(session)
            self.completed += 1
        except AgiHangup:
            self.completed += 1  # the caller left: a normal end
        except (AgiError, TimeoutError, OSError) as exc:
            self.failed += 1
            log.warning("FastAGI session failed: %s", exc)
        except Exception:
            self.failed += 1
            log.exception("FastAGI handler crashed")
        finally:
            self.active -= 1
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _admit(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[dict[str, str], str] | None:
        """The headers and route of an admitted session; None when refused."""
        guard = self.guard
        try:
            if guard is not None:
                peer = writer.get_extra_info("peername")
                guard.admit_connection(str(peer[0]) if peer else "", self.active)
            env = await self._read_env(reader)
            script = env.get("agi_network_script", "").strip("/")
            return env, guard.route(script) if guard is not None else script
        except AgiRefused as exc:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_refusal_log >= 1.0:  # at most one line a second
                self._last_refusal_log = now
                log.warning("FastAGI connection refused: %s (%d so far)", exc, self.refused)
            return None

    def _record_reply(self, verb: str, seconds: float) -> None:
        if verb not in ("GET DATA", "STREAM FILE"):  # these wait for the caller
            self.reply_times.append(seconds)

    async def _read_env(self, reader: asyncio.StreamReader) -> dict[str, str]:
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(self.header_timeout):
                while True:
                    raw = await reader.readuntil(b"\n")
                    line = raw.decode("utf-8", "replace").strip()
                    if not line:
                        return env
                    key, sep, value = line.partition(":")
                    if not sep or not key.startswith("agi_"):
                        raise AgiError(f"malformed AGI header line {line[:80]!r}")
                    env[key.strip()] = value.strip()
                    if len(env) > 200:
                        raise AgiError("too many AGI header lines")
        except asyncio.IncompleteReadError as exc:
            raise AgiHangup("connection closed during AGI headers") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiError("AGI header line too long") from exc
        except TimeoutError as exc:
            raise AgiError("AGI headers incomplete") from exc
