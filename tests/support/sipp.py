"""Real SIP calls in tests, with sipp (Debian package ``sip-tester``).

* :class:`AgentPhone` - a sipp UAS on an agent's static contact port
  (agent1001 -> 127.0.0.1:51001 ...): rings, answers with PCMA, plays
  ``g711a.pcap`` as RTP, then waits for Asterisk's BYE or hangs up itself.
  Handles any number of calls, one after another or at once.
* :func:`place_call` / :func:`start_call` - a sipp UAC calling the hotline as
  a PSTN caller: DTMF as SIP INFO (optionally more digits later:
  ``late_dtmf``), RTP audio, hangs up after ``talk_s`` or accepts Asterisk's
  BYE, whichever comes first.
* :class:`CallerLoad` - ONE sipp UAC placing many such calls (a load test):
  calls started at a rate, caller numbers and digits per call from an
  injection file, results per call from the same message log.

The scenarios in ``sipp_scenarios/`` are templates rendered per process.
Progress is read from sipp's message log (``-trace_logs``), which sipp flushes
line by line: every wait is on an explicit event with a timeout, never a bare
sleep.
Every sipp process is ended and reaped on exit (``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ParamSpec

from cti import sipp as scenarios
from cti.sipp import (
    AUDIO_PCAP,
    NUMBER,
    caller_args,
    caller_scenario,
    pcap_duration_ms,
    sipp_command,
)
from cti.sipp import free_media_port as _free_media_port
from cti.sipp import free_udp_port as free_udp_port
from cti.sipp import udp_free as _udp_free
from tests.support.lifecycle import StartStop

__all__ = [
    "AUDIO_PCAP",
    "AgentPhone",
    "CallHandle",
    "CallResult",
    "CallerLoad",
    "LoadCall",
    "LoadResult",
    "SippError",
    "agent_port",
    "kill_leftovers",
    "place_call",
    "start_call",
]

SCENARIO_DIR = Path(__file__).with_name("sipp_scenarios")
_P = ParamSpec("_P")
_SIPP = "sipp"
_POLL_S = 0.02
_SIPP_STOP_GRACE_S = 3.0


class SippError(RuntimeError):
    """sipp could not be started or died unexpectedly."""


# sipp processes started and not stopped yet (see kill_leftovers).
_live: set[_Sipp] = set()


def kill_leftovers() -> int:
    """SIGKILL every sipp process started here and not stopped yet.

    For test teardown (the pbx_fixture plugin runs it after every test), so a
    failing test never leaves a sipp holding an agent port. Returns how many
    were killed.
    """
    killed = 0
    for sipp in list(_live):
        _live.discard(sipp)
        if sipp.proc is not None and sipp.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sipp.proc.pid, signal.SIGKILL)
            killed += 1
        sipp.cleanup()
    return killed


def agent_port(agent: int | str) -> int:
    """SIP port of an agent phone's static contact: 1001 -> 51001."""
    number = int(str(agent).removeprefix("agent"))
    if not 1001 <= number <= 1010:
        raise ValueError(f"no static contact for agent {agent}")
    return 50000 + number


# --------------------------------------------------------------------------- rendering


def render_scenario(
    name: str,
    values: Mapping[str, object],
    blocks: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
) -> str:
    """Render ``sipp_scenarios/<name>`` (the agent phone, the caller load; the
    caller is cti.sipp's)."""
    return scenarios.render_scenario(SCENARIO_DIR / name, values, blocks)


def _udp_bound(host: str, port: int) -> bool:
    """Whether some socket is bound to host:port (from /proc/net/udp)."""
    packed = socket.inet_aton(host)
    wanted = f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
    try:
        with open("/proc/net/udp", encoding="ascii") as table:
            return any(line.split()[1] == wanted for line in list(table)[1:])
    except OSError:
        return not _udp_free(host, port)


# --------------------------------------------------------------------------- sipp process


class _Sipp:
    """One sipp process with its work directory and message log."""

    def __init__(self, label: str, scenario: str, args: Sequence[str]) -> None:
        if shutil.which(_SIPP) is None:
            raise SippError("sipp is not installed (apt-get install sip-tester)")
        self.label = label
        self.workdir = Path(tempfile.mkdtemp(prefix=f"hotline-sipp-{label}-"))
        self.scenario_path = self.workdir / "scenario.xml"
        self.scenario_path.write_text(scenario, encoding="utf-8")
        self.log_path = self.workdir / "messages.log"
        self.error_path = self.workdir / "errors.log"
        self.screen_path = self.workdir / "screen.txt"
        self.args = sipp_command(self.scenario_path, self.log_path, self.error_path, args)
        self.proc: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None
        self._offset = 0
        self._partial = b""
        self.lines: list[str] = []

    async def spawn(self) -> None:
        with self.screen_path.open("wb") as screen:
            self.proc = await asyncio.create_subprocess_exec(
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=screen,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        _live.add(self)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def read_log(self) -> list[str]:
        """New complete lines of sipp's message log since the last call."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        new = [line.decode("utf-8", "replace").strip() for line in complete if line.strip()]
        self.lines.extend(new)
        return new

    async def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            self.returncode = await self.proc.wait()
        self.read_log()
        return self.returncode

    async def stop(self) -> int | None:
        """Quit gracefully (SIGUSR1: no new calls, finish), then force."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            for sig, grace in (
                (signal.SIGUSR1, _SIPP_STOP_GRACE_S),
                (signal.SIGTERM, 2.0),
                (signal.SIGKILL, 5.0),
            ):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, sig)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(grace):
                        await self.proc.wait()
                    break
        self.returncode = await self.proc.wait()
        _live.discard(self)
        self.read_log()
        return self.returncode

    def final_counts(self) -> tuple[int | None, int | None]:
        """(successful, failed) calls from sipp's last statistics screen."""
        text = self.screen_path.read_text("utf-8", "replace") if self.screen_path.exists() else ""

        def last(label: str) -> int | None:
            found = re.findall(rf"{label}\s*\|\s*(\d+)\s*\|\s*(\d+)", text)
            return int(found[-1][1]) if found else None

        return last("Successful call"), last("Failed call")

    def diagnostics(self, lines: int = 30) -> str:
        parts = []
        for path in (self.error_path, self.screen_path):
            if path.exists():
                text = path.read_text("utf-8", "replace").splitlines()
                tail = [line for line in text if line.strip()][-lines:]
                parts.append(f"--- {path.name}:\n" + "\n".join(tail))
        return "\n".join(parts) or "(no sipp output)"

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _count(lines: Iterable[str], event: str) -> int:
    return sum(1 for line in lines if line.split(" ", 1)[0] == event)


# --------------------------------------------------------------------------- agent phone


class AgentPhone(StartStop):
    """A sipp UAS answering as an agent phone on 127.0.0.1:<port>.

    ``answer_after_s``: ring this long before answering; ``answer=False``
    rings until Asterisk cancels. ``hangup_after_s``: after answering, send
    BYE after this long (None: wait for Asterisk's BYE).

    ::

        async with AgentPhone(port=agent_port(1001), answer_after_s=0.5) as phone:
            ...
            await phone.wait_answered(timeout=20)
            await phone.wait_completed(timeout=30)
    """

    def __init__(
        self,
        port: int,
        *,
        answer_after_s: float = 0.5,
        hangup_after_s: float | None = None,
        answer: bool = True,
        host: str = "127.0.0.1",
        audio: Path = AUDIO_PCAP,
    ) -> None:
        self.port = port
        self.host = host
        self.answer_after_s = answer_after_s
        self.hangup_after_s = hangup_after_s
        self.answer = answer
        self.audio = audio
        self._sipp: _Sipp | None = None
        self._lines: list[str] = []
        self.exit_code: int | None = None
        self.failed_calls: int | None = None
        self.successful_calls: int | None = None

    async def start(self, *, timeout: float = 5.0) -> None:
        """Start sipp and return once it listens on the port."""
        if self._sipp is not None and self._sipp.running:
            raise SippError(f"agent phone on port {self.port} is already running")
        answer_ms = max(1, round(self.answer_after_s * 1000)) if self.answer else 86_400_000
        bye_timeout = (
            f' timeout="{max(1, round(self.hangup_after_s * 1000))}" ontimeout="hangup"'
            if self.hangup_after_s is not None
            else ""
        )
        scenario = render_scenario(
            "agent_phone.xml",
            {"answer_ms": answer_ms, "bye_timeout": bye_timeout, "audio_pcap": self.audio},
        )
        if not _udp_free(self.host, self.port):
            raise SippError(f"UDP {self.host}:{self.port} is already in use")
        media = _free_media_port(self.host)
        sipp = _Sipp(
            f"agent{self.port}",
            scenario,
            [
                "-i",
                self.host,
                "-p",
                str(self.port),
                "-mi",
                self.host,
                "-mp",
                str(media),
                "-aa",
                "-max_recv_loops",
                "1000",
            ],
        )
        self._sipp = sipp
        self.exit_code = self.failed_calls = self.successful_calls = None
        await sipp.spawn()
        deadline = time.monotonic() + timeout
        while not _udp_bound(self.host, self.port):
            if not sipp.running:
                await sipp.stop()
                raise SippError(f"agent phone sipp exited at start:\n{sipp.diagnostics()}")
            if time.monotonic() > deadline:
                await sipp.stop()
                raise SippError(f"agent phone sipp did not bind {self.host}:{self.port}")
            await asyncio.sleep(_POLL_S)

    async def stop(self) -> int | None:
        """Stop sipp (idempotent); sets exit_code, successful/failed_calls."""
        sipp = self._sipp
        if sipp is None:
            return self.exit_code
        try:
            self.exit_code = await sipp.stop()
            self.successful_calls, self.failed_calls = sipp.final_counts()
            self._lines = list(sipp.lines)
        finally:
            sipp.cleanup()
            self._sipp = None
        return self.exit_code

    @property
    def log_lines(self) -> list[str]:
        """Event lines so far: 'INVITE <call-id>', 'ANSWERED <call-id>'..."""
        if self._sipp is not None:
            self._sipp.read_log()
            return list(self._sipp.lines)
        return list(self._lines)

    @property
    def calls_received(self) -> int:
        return _count(self.log_lines, "INVITE")

    @property
    def calls_answered(self) -> int:
        return _count(self.log_lines, "ANSWERED")

    @property
    def calls_cancelled(self) -> int:
        return _count(self.log_lines, "CANCELLED")

    @property
    def calls_completed(self) -> int:
        """Answered calls that ended with a BYE (either side)."""
        return _count(self.log_lines, "COMPLETED")

    async def wait_ringing(self, count: int = 1, *, timeout: float = 30.0) -> None:
        """Wait until at least ``count`` INVITEs arrived in total."""
        await self._wait("INVITE", count, timeout)

    async def wait_answered(self, count: int = 1, *, timeout: float = 30.0) -> None:
        """Wait until at least ``count`` calls were answered (ACK received)."""
        await self._wait("ANSWERED", count, timeout)

    async def wait_cancelled(self, count: int = 1, *, timeout: float = 30.0) -> None:
        await self._wait("CANCELLED", count, timeout)

    async def wait_completed(self, count: int = 1, *, timeout: float = 30.0) -> None:
        """Wait until at least ``count`` answered calls have ended."""
        await self._wait("COMPLETED", count, timeout)

    async def _wait(self, event: str, count: int, timeout: float) -> None:
        sipp = self._sipp
        if sipp is None:
            raise SippError("agent phone is not running")
        deadline = time.monotonic() + timeout
        while True:
            sipp.read_log()
            if _count(sipp.lines, event) >= count:
                return
            if not sipp.running:
                raise SippError(
                    f"agent phone sipp on port {self.port} exited while waiting for "
                    f"{count} x {event}:\n{sipp.diagnostics()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"agent phone on port {self.port}: {_count(sipp.lines, event)} x {event} "
                    f"after {timeout} s, wanted {count}; log: {sipp.lines[-10:]}"
                )
            await asyncio.sleep(_POLL_S)


# --------------------------------------------------------------------------- caller


@dataclass(frozen=True, slots=True)
class CallResult:
    """How a :func:`place_call` call went."""

    exit_code: int | None
    answered: bool
    completed: bool
    remote_hangup: bool
    local_hangup: bool
    dtmf_sent: str
    call_id: str | None
    timed_out: bool = False
    log: tuple[str, ...] = field(default=(), repr=False)
    diagnostics: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """sipp exited 0 and the call was answered and ended cleanly."""
        return self.exit_code == 0 and self.answered and self.completed

    def describe(self) -> str:
        """Everything known about the call, for assertion messages."""
        return f"{self!r}\nlog: {list(self.log)}\n{self.diagnostics}"


@dataclass
class CallHandle(StartStop):
    """A running :func:`start_call` call; ``await handle.wait()``."""

    _sipp: _Sipp
    timeout: float
    _result: CallResult | None = field(default=None, init=False)

    @property
    def answered(self) -> bool:
        self._sipp.read_log()
        return _count(self._sipp.lines, "ANSWERED") > 0

    async def wait_answered(self, timeout: float = 30.0) -> None:
        """Wait until Asterisk answered the call (200 OK received)."""
        deadline = time.monotonic() + timeout
        while not self.answered:
            if not self._sipp.running:
                raise SippError(f"caller sipp ended unanswered:\n{self._sipp.diagnostics()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"call not answered after {timeout} s")
            await asyncio.sleep(_POLL_S)

    async def wait(self, timeout: float | None = None) -> CallResult:
        """Wait for sipp to finish the call (killing it after ``timeout``)."""
        if self._result is not None:
            return self._result
        timed_out = False
        try:
            await self._sipp.wait_exit(self.timeout if timeout is None else timeout)
        except TimeoutError:
            timed_out = True
        return await self._finish(timed_out)

    async def stop(self) -> CallResult:
        """End the call now (sipp is stopped) and return what happened."""
        if self._result is not None:
            return self._result
        return await self._finish(self._sipp.running)

    async def _finish(self, timed_out: bool) -> CallResult:
        sipp = self._sipp
        try:
            code = await sipp.stop()
            lines = tuple(sipp.lines)
            ids = [line.split()[-1] for line in lines if line.startswith("ANSWERED ")]
            self._result = CallResult(
                exit_code=code,
                answered=_count(lines, "ANSWERED") > 0,
                completed=_count(lines, "COMPLETED") > 0,
                remote_hangup=_count(lines, "REMOTE_BYE") > 0,
                local_hangup=_count(lines, "LOCAL_BYE") > 0,
                dtmf_sent="".join(line.split()[1] for line in lines if line.startswith("DTMF ")),
                call_id=ids[0] if ids else None,
                timed_out=timed_out,
                log=lines,
                diagnostics="" if code == 0 else sipp.diagnostics(),
            )
        finally:
            sipp.cleanup()
        return self._result


_DTMF = re.compile(r"^[0-9*#A-D]*$")


async def start_call(
    sip_port: int,
    *,
    caller_number: str,
    caller_name: str | None = None,
    exten: str = "4000",
    dtmf: str = "1",
    dtmf_delay_s: float = 0.5,
    dtmf_gap_s: float = 0.25,
    late_dtmf: str = "",
    late_dtmf_delay_s: float = 5.0,
    late_dtmf_gap_s: float | None = None,
    talk_s: float | None = 5.0,
    local_port: int | None = None,
    sip_host: str = "127.0.0.1",
    local_host: str = "127.0.0.1",
    timeout: float | None = None,
    audio: Path = AUDIO_PCAP,
) -> CallHandle:
    """Start a call to the hotline at ``sip_host:sip_port`` in the background.

    ``caller_number`` is the From user (the caller's number); ``caller_name``
    an optional display name (UTF-8 fine). After the answer the call waits
    ``dtmf_delay_s``, sends ``dtmf`` as SIP INFO digits ``dtmf_gap_s`` apart
    (each after the previous one's 200), then ``late_dtmf`` (if any) the
    same way ``late_dtmf_delay_s`` after the last of ``dtmf`` (after the
    answer when ``dtmf`` is empty): e.g. a survey answer after the agent hung
    up. Then it talks ``talk_s`` seconds (None: until Asterisk hangs up) and
    hangs up; Asterisk's BYE is accepted at any time. ``timeout`` bounds the
    whole call (default: its planned length + 60 s).
    """
    if not _DTMF.match(dtmf) or not _DTMF.match(late_dtmf):
        raise ValueError(f"invalid DTMF digits {dtmf!r} / {late_dtmf!r}")
    # the pause after each digit: the gap, the late delay after the last early
    # digit (the very last one's is ignored: the talk follows)
    late_gap_s = dtmf_gap_s if late_dtmf_gap_s is None else late_dtmf_gap_s
    pauses = [dtmf_gap_s] * len(dtmf) + [late_gap_s] * len(late_dtmf)
    if dtmf and late_dtmf:
        pauses[len(dtmf) - 1] = late_dtmf_delay_s
    all_digits = dtmf + late_dtmf
    first_delay_s = dtmf_delay_s if dtmf else late_dtmf_delay_s if late_dtmf else 0.001
    scenario = caller_scenario(
        list(zip(all_digits, pauses, strict=True)),
        first_delay_s=first_delay_s,
        talk_s=talk_s,
        audio=audio,
    )
    planned_s = (
        dtmf_delay_s
        + len(all_digits) * (max(dtmf_gap_s, late_gap_s) + 0.2)
        + (late_dtmf_delay_s if late_dtmf else 0.0)
        + (talk_s or 3600.0)
    )
    limit = timeout if timeout is not None else planned_s + 60.0
    port = local_port if local_port is not None else free_udp_port(local_host)
    sipp = _Sipp(
        f"caller{port}",
        scenario,
        caller_args(
            sip_host=sip_host,
            sip_port=sip_port,
            caller_number=caller_number,
            caller_name=caller_name,
            exten=exten,
            local_host=local_host,
            local_port=port,
            timeout_s=limit,
        ),
    )
    await sipp.spawn()
    return CallHandle(sipp, limit + 10.0)


def _waited(
    start: Callable[_P, Awaitable[CallHandle]],
) -> Callable[_P, Coroutine[None, None, CallResult]]:
    """``start`` a call, then wait until it ends (its sipp stopped in any case)."""

    async def place(*args: _P.args, **kwargs: _P.kwargs) -> CallResult:
        async with await start(*args, **kwargs) as handle:
            return await handle.wait()

    return place


#: Place a call and wait until it ends; arguments as :func:`start_call`.
place_call = _waited(start_call)


# --------------------------------------------------------------------------- many callers

_NUMBER = NUMBER


@dataclass(frozen=True, slots=True)
class LoadCall:
    """One call of a :class:`CallerLoad`, from the caller's side.

    Times are milliseconds of sipp's clock (``[clock_tick]``, since sipp started).
    """

    caller_number: str
    planned_dtmf: str
    answered_ms: int | None = None
    dtmf_sent: str = ""
    dtmf_ms: tuple[int, ...] = ()
    ended_ms: int | None = None
    remote_hangup: bool = False
    local_hangup: bool = False

    @property
    def answered(self) -> bool:
        return self.answered_ms is not None

    @property
    def completed(self) -> bool:
        """Answered, every planned digit sent (and acknowledged), ended cleanly."""
        return self.answered and self.ended_ms is not None and self.dtmf_sent == self.planned_dtmf


@dataclass(frozen=True, slots=True)
class LoadResult:
    """How a :class:`CallerLoad` went: one :class:`LoadCall` per planned call."""

    exit_code: int | None
    calls: tuple[LoadCall, ...]
    timed_out: bool = False
    diagnostics: str = field(default="", repr=False)

    @property
    def peak_concurrent(self) -> int:
        """Most calls answered and not yet ended at the same moment (caller's view)."""
        edges: list[tuple[int, int]] = []
        for call in self.calls:
            if call.answered_ms is not None:
                edges.append((call.answered_ms, 1))
                end = call.ended_ms if call.ended_ms is not None else 1 << 62
                edges.append((end, -1))
        peak = current = 0
        for _, step in sorted(edges):  # an end sorts before a start at the same ms
            current += step
            peak = max(peak, current)
        return peak


class CallerLoad(StartStop):
    """ONE sipp UAC placing many calls to the hotline (caller_load.xml).

    ``callers`` is one ``(caller number, DTMF digits)`` per call, all with the
    same number of digits; calls start at ``rate`` per second, at most
    ``limit`` at once (default: all of them). After the answer each call waits
    ``dtmf_delay_s``, sends its digits as SIP INFO ``dtmf_gap_s`` apart (each
    after the previous one's 200), stays on the line ``hold_s`` and hangs up;
    Asterisk's BYE is accepted at any time. ``audio``: a pcap played as the
    caller's RTP (repeated while on hold); None sends no RTP (DTMF is SIP INFO,
    but note that Asterisk's Answer() waits up to 500 ms for the caller's
    first media frame before the dialplan goes on). ``nice``: run sipp at
    this lower priority, so that the load generator, which in real life is
    not on the PBX's machine, takes less CPU from the system under test.

    ::

        async with CallerLoad(port, [("15550000001", "11"), ...], rate=40) as load:
            result = await load.wait(timeout=120)
    """

    def __init__(
        self,
        sip_port: int,
        callers: Sequence[tuple[str, str]],
        *,
        rate: float,
        limit: int | None = None,
        exten: str = "4000",
        dtmf_delay_s: float = 0.5,
        dtmf_gap_s: float = 0.25,
        hold_s: float = 5.0,
        audio: Path | None = AUDIO_PCAP,
        sip_host: str = "127.0.0.1",
        local_host: str = "127.0.0.1",
        local_port: int | None = None,
        nice: int = 0,
    ) -> None:
        if not callers:
            raise ValueError("no callers")
        if rate <= 0:
            raise ValueError("rate must be positive")
        if len({len(digits) for _, digits in callers}) != 1:
            raise ValueError("every caller must send the same number of digits")
        if len({number for number, _ in callers}) != len(callers):
            raise ValueError("caller numbers must be unique (they tell the calls apart)")
        for number, digits in callers:
            if not _DTMF.fullmatch(digits):
                raise ValueError(f"invalid DTMF digits {digits!r}")
            if not _NUMBER.fullmatch(number):
                raise ValueError(f"invalid caller number {number!r}")
        if not _NUMBER.fullmatch(exten):
            raise ValueError(f"invalid extension {exten!r}")
        self.sip_port = sip_port
        self.callers = list(callers)
        self.rate = rate
        self.limit = limit or len(self.callers)
        self.exten = exten
        self.dtmf_delay_s = dtmf_delay_s
        self.dtmf_gap_s = dtmf_gap_s
        self.hold_s = hold_s
        self.audio = audio
        self.sip_host = sip_host
        self.local_host = local_host
        self.local_port = local_port
        self.nice = nice
        self._sipp: _Sipp | None = None
        self._result: LoadResult | None = None

    @property
    def planned_s(self) -> float:
        """How long the whole load should take when nothing is late."""
        digits = len(self.callers[0][1])
        one_call = self.dtmf_delay_s + digits * (self.dtmf_gap_s + 0.2) + self.hold_s
        return len(self.callers) / self.rate + one_call

    def _scenario(self) -> str:
        digits = len(self.callers[0][1])
        gap_ms = max(1, round(self.dtmf_gap_s * 1000))
        delay_ms = max(1, round(self.dtmf_delay_s * 1000))
        hold_ms = max(1, round(self.hold_s * 1000))
        play = ""
        hold: list[dict[str, object]] = []
        if self.audio is None:
            hold.append({"index": 0, "wait_ms": hold_ms, "play": ""})
        else:
            play = (
                "  <nop>\n    <action>\n"
                f'      <exec play_pcap_audio="{self.audio}"/>\n'
                "    </action>\n  </nop>\n"
            )
            chunk = pcap_duration_ms(self.audio)
            # the chunk started at the answer plays on into the hold (the INFO
            # round trips make this approximate), then one chunk after another
            rest = max(0, chunk - delay_ms - (digits - 1) * gap_ms)
            remaining = hold_ms
            if rest:
                hold.append({"index": 0, "wait_ms": min(rest, remaining), "play": ""})
                remaining -= min(rest, remaining)
            while remaining > 0:
                ms = min(chunk, remaining)
                hold.append({"index": len(hold), "wait_ms": ms, "play": play})
                remaining -= ms
        return render_scenario(
            "caller_load.xml",
            {
                "exten": self.exten,
                "first_play": play,
                "dtmf_delay_ms": delay_ms,
                "bye_cseq": 2 + digits,
            },
            {
                "dtmf": [
                    # no pause after the last digit: the hold follows
                    {
                        "index": i,
                        "field": 1 + i,
                        "cseq": 2 + i,
                        "gap_ms": gap_ms if i + 1 < digits else 1,
                    }
                    for i in range(digits)
                ],
                "hold": hold,
            },
        )

    async def start(self) -> None:
        if self._sipp is not None:
            raise SippError("caller load already started")
        port = self.local_port if self.local_port is not None else free_udp_port(self.local_host)
        limit_s = self.planned_s + 120.0
        sipp = _Sipp(
            f"load{port}",
            self._scenario(),
            [
                "-i",
                self.local_host,
                "-p",
                str(port),
                "-mi",
                self.local_host,
                "-mp",
                str(_free_media_port(self.local_host)),
                "-inf",
                "callers.csv",
                "-m",
                str(len(self.callers)),
                "-l",
                str(self.limit),
                "-r",
                f"{self.rate:g}",
                "-rp",
                "1000",
                "-aa",
                "-buff_size",
                str(4 << 20),
                "-timeout",
                f"{max(1, round(limit_s))}s",
                "-timeout_error",
                f"{self.sip_host}:{self.sip_port}",
            ],
        )
        if self.nice:
            sipp.args = ["nice", "-n", str(self.nice), *sipp.args]
        lines = ["SEQUENTIAL"] + [";".join([n, *d]) + ";" for n, d in self.callers]
        (sipp.workdir / "callers.csv").write_text("\n".join(lines) + "\n", encoding="ascii")
        self._sipp = sipp
        await sipp.spawn()

    @property
    def running(self) -> bool:
        return self._sipp is not None and self._sipp.running

    async def wait(self, timeout: float | None = None) -> LoadResult:
        """Wait until sipp has placed and ended every call (killing it after ``timeout``)."""
        if self._result is not None:
            return self._result
        sipp = self._sipp
        if sipp is None:
            raise SippError("caller load not started")
        timed_out = False
        try:
            await sipp.wait_exit(self.planned_s + 130.0 if timeout is None else timeout)
        except TimeoutError:
            timed_out = True
        return await self._finish(timed_out)

    async def stop(self) -> LoadResult | None:
        """End every call now (sipp is stopped) and return what happened."""
        if self._result is not None or self._sipp is None:
            return self._result
        return await self._finish(self._sipp.running)

    async def _finish(self, timed_out: bool) -> LoadResult:
        sipp = self._sipp
        assert sipp is not None
        try:
            code = await sipp.stop()
            self._result = LoadResult(
                exit_code=code,
                calls=self._calls(sipp.lines),
                timed_out=timed_out,
                diagnostics="" if code == 0 else sipp.diagnostics(),
            )
        finally:
            sipp.cleanup()
        return self._result

    def _calls(self, lines: Sequence[str]) -> tuple[LoadCall, ...]:
        calls = {
            number: LoadCall(caller_number=number, planned_dtmf=digits)
            for number, digits in self.callers
        }
        for line in lines:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in calls or not parts[2].isdigit():
                continue
            event, number, tick = parts[0], parts[1], int(parts[2])
            call = calls[number]
            if event == "ANSWERED" and call.answered_ms is None:
                calls[number] = replace(call, answered_ms=tick)
            elif event == "DTMF" and len(parts) > 3:
                calls[number] = replace(
                    call, dtmf_sent=call.dtmf_sent + parts[3], dtmf_ms=(*call.dtmf_ms, tick)
                )
            elif event == "REMOTE_BYE":
                calls[number] = replace(call, remote_hangup=True)
            elif event == "LOCAL_BYE":
                calls[number] = replace(call, local_hangup=True)
            elif event == "COMPLETED":
                calls[number] = replace(call, ended_ms=tick)
        return tuple(calls[number] for number, _ in self.callers)
