"""A real Asterisk for integration tests, and a minimal raw AMI client.

Fixtures (enable with ``pytest_plugins = ("tests.support.pbx_fixture",)``):

* ``pbx_settings`` (session): test :class:`Settings` - random AMI secret,
  free AMI/SIP/AGI ports on 127.0.0.1, the trunk's outgoing calls sent to a
  free UDP port on 127.0.0.1 (``trunk_host``), run and recordings directories under
  the session's tmp dir, the shared cached root filesystem
  (``Settings().asterisk_rootfs``, or ``HOTLINE_ASTERISK_ROOTFS``). Override
  it in a conftest to change e.g. ``agi_port``.
* ``pbx`` (session): Asterisk built if needed, started, stopped at the end.
  If it cannot be built or started the tests using it FAIL (never skip).
* an autouse fixture that kills, after each test, any sipp process the test
  left running (tests.support.sipp).

The Asterisk is shared by the whole session: dynamic queue members a test
adds stay until removed (``clear_queue``), and a member with no phone
listening is rung until its timeout.

The test-only SIP endpoint ``selftest`` (identified by From user "selftest",
context ``hotline-test``) is added through a site file, so tests can call the
test extensions directly: ``place_call(port, caller_number="selftest",
exten="dtmf")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from pydantic import SecretStr

from cti.config import Settings
from cti.pbx import runtime
from cti.sipp import free_udp_port as free_udp_port
from tests.support import sipp
from tests.support.lifecycle import StartStop

__all__ = [
    "LOOPTEST_CALLER",
    "LOOP_PHONES",
    "SELFTEST_CALLER",
    "AmiError",
    "AmiLoginError",
    "AmiMessage",
    "Pbx",
    "RawAmi",
    "clear_queue",
    "pbx",
    "pbx_settings",
]

#: From user of test calls that should land in the ``hotline-test`` context.
SELFTEST_CALLER = "selftest"

TEST_SITE_FILES = {
    "pjsip_site.conf": f"""; Test-only endpoint: From user "{SELFTEST_CALLER}" -> hotline-test.
[{SELFTEST_CALLER}]
type = endpoint
transport = transport-udp
context = hotline-test
disallow = all
allow = alaw,ulaw
direct_media = no
rtp_symmetric = yes
send_connected_line = no
""",
}

#: From user of the far ends of loopback legs (they land in ``hotline-looptest``).
LOOPTEST_CALLER = "looptest"
#: Loopback phones: an endpoint whose contact is the test Asterisk itself. A
#: call to ``PJSIP/<name>`` comes back in as LOOPTEST_CALLER to the extension
#: ``<name>`` of ``[hotline-looptest]``, which answers, plays a tone and records
#: what it hears, so a test can measure what the phone's user heard.
LOOP_PHONES = ("loopagent", "loopsuper")


def site_files(settings: Settings) -> dict[str, str]:
    """TEST_SITE_FILES plus the loopback phones (their contact is this Asterisk's port)."""
    phones = "".join(
        f"""
[{name}]
type = endpoint
transport = transport-udp
context = hotline-looptest
disallow = all
allow = alaw
direct_media = no
rtp_symmetric = yes
send_connected_line = no
from_user = {LOOPTEST_CALLER}
aors = {name}

[{name}]
type = aor
contact = sip:{name}@{settings.sip_host}:{settings.sip_port}
"""
        for name in LOOP_PHONES
    )
    looptest = f"""
; Test-only: far ends of loopback legs (From user "{LOOPTEST_CALLER}").
[{LOOPTEST_CALLER}]
type = endpoint
transport = transport-udp
context = hotline-looptest
disallow = all
allow = alaw
direct_media = no
rtp_symmetric = yes
send_connected_line = no
"""
    dialplan = """; Test-only dialplan: loopback legs. Each plays a tone (Hz) and records what
; it hears (MixMonitor's receive feed) into looptest-<tone>-<uniqueid>.wav in the
; recordings directory, until hung up (a supervisor's leg after 6 s).
[hotline-looptest]
exten => loopagent,1,Answer()
 same => n,Set(TONE=620)
 same => n,Set(LIMIT=600)
 same => n,Goto(heard,1)
exten => loopsuper,1,Answer()
 same => n,Set(TONE=1020)
 same => n,Set(LIMIT=6)
 same => n,Goto(heard,1)
; the caller: an originated call to the hotline runs this once answered
exten => loopcaller,1,Set(TONE=440)
 same => n,Set(LIMIT=600)
 same => n,Goto(heard,1)
exten => heard,1,Set(HEARD=${HOTLINE_REC_DIR}/looptest-${TONE}-${UNIQUEID})
 same => n,MixMonitor(${HEARD}-both.wav,r(${HEARD}.wav))
 same => n,Playtones(${TONE})
 same => n,Wait(${LIMIT})
 same => n,Hangup()
"""
    return {
        "pjsip_site.conf": TEST_SITE_FILES["pjsip_site.conf"] + looptest + phones,
        "extensions_site.conf": dialplan,
    }


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Pbx:
    """The running test Asterisk."""

    settings: Settings

    @property
    def ami_secret(self) -> str:
        return self.settings.ami_secret.get_secret_value()

    def status(self) -> runtime.AsteriskStatus:
        return runtime.status(self.settings)

    def cli(self, command: str) -> str:
        """Output of an Asterisk CLI command (``asterisk -rx``)."""
        return runtime.asterisk_cli(self.settings, command)

    def recording(self, path_in_asterisk: str | PurePosixPath) -> Path:
        return runtime.recording_path_in_host(self.settings, path_in_asterisk)

    async def ami(self, *, events: str = "on") -> RawAmi:
        """A logged-in AMI connection as the CTI user (close it, or use async with)."""
        return await RawAmi.login(
            self.settings.ami_host,
            self.settings.ami_port,
            self.settings.ami_user,
            self.ami_secret,
            events=events,
        )


@pytest.fixture(scope="session")
def pbx_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("pbx")
    return Settings(
        ami_host="127.0.0.1",
        ami_port=free_tcp_port(),
        ami_secret=SecretStr(secrets.token_urlsafe(24)),
        sip_host="127.0.0.1",
        sip_port=free_udp_port(),
        agi_host="127.0.0.1",
        agi_port=free_tcp_port(),  # nothing listens: the dialplan's AGI fallback runs
        # the "carrier" of outgoing trunk calls (IVR transfers): a sipp UAS there
        trunk_host=f"127.0.0.1:{free_udp_port()}",
        # call-backs only to the test callers' range (the site's allow-list)
        callback_allowed_prefixes=["1555"],
        asterisk_run_dir=base / "run",
        recordings_dir=base / "recordings",
        asterisk_rootfs=Settings().asterisk_rootfs,
    )


@pytest.fixture(scope="session")
def pbx(pbx_settings: Settings) -> Iterator[Pbx]:
    try:
        runtime.start(pbx_settings, extra_files=site_files(pbx_settings))
    except runtime.PbxError as exc:
        pytest.fail(f"the test Asterisk could not be built/started:\n{exc}", pytrace=False)
    try:
        yield Pbx(pbx_settings)
    finally:
        runtime.stop(pbx_settings)


@pytest.fixture(autouse=True)
def _no_leftover_sipp() -> Iterator[None]:
    """Kill sipp processes a test started and did not stop (e.g. it failed)."""
    yield
    sipp.kill_leftovers()


# --------------------------------------------------------------------------- raw AMI


class AmiError(RuntimeError):
    """An AMI action failed or the connection broke."""


class AmiLoginError(AmiError):
    """Login refused."""


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI frame; header names are matched case-insensitively."""

    headers: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, frame: bytes) -> AmiMessage:
        text = frame.decode("utf-8", errors="replace")
        pairs = []
        for line in text.split("\r\n"):
            if ":" in line:
                key, value = line.split(":", 1)
                pairs.append((key.strip(), value.strip()))
        return cls(tuple(pairs))

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def getall(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.headers if k.lower() == wanted]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def chanvars(self) -> dict[str, str]:
        """``ChanVariable: NAME=value`` headers (manager.conf channelvars)."""
        return dict(item.split("=", 1) for item in self.getall("ChanVariable") if "=" in item)


class RawAmi(StartStop):
    """Minimal AMI client on a raw asyncio socket (no panoramisk).

    Frames are split on ``\\r\\n\\r\\n`` before decoding (UTF-8 names stay
    intact). Events are kept in ``events`` in arrival order; replies are
    matched to actions by ActionID.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.events: list[AmiMessage] = []
        self._pending: dict[str, asyncio.Queue[AmiMessage | None]] = {}
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def login(
        cls,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        events: str = "on",
        timeout: float = 5.0,
    ) -> RawAmi:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            banner = await reader.readline()
        if not banner.startswith(b"Asterisk Call Manager"):
            writer.close()
            await writer.wait_closed()
            raise AmiError(f"not an AMI banner: {banner!r}")
        ami = cls(reader, writer)
        try:
            reply = await ami.action(
                "Login", timeout=timeout, Username=username, Secret=secret, Events=events
            )
        except AmiError as exc:
            await ami.close()
            raise AmiLoginError(str(exc)) from exc
        if reply.get("Response") != "Success":
            await ami.close()
            raise AmiLoginError(reply.get("Message") or "login refused")
        return ami

    async def stop(self) -> None:
        """:meth:`close` (the end of ``async with``)."""
        await self.close()

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    frame = await self._reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                message = AmiMessage.parse(frame)
                action_id = message.get("ActionID")
                if action_id is not None and action_id in self._pending:
                    self._pending[action_id].put_nowait(message)
                    continue
                async with self._changed:
                    self.events.append(message)
                    self._changed.notify_all()
        finally:
            self._closed = True
            for queue in self._pending.values():
                queue.put_nowait(None)
            async with self._changed:
                self._changed.notify_all()

    async def _send(self, name: str, headers: dict[str, str]) -> str:
        if self._closed:
            raise AmiError("AMI connection is closed")
        action_id = f"t{next(self._ids)}"
        self._pending[action_id] = asyncio.Queue()
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        return action_id

    async def _next(self, action_id: str) -> AmiMessage:
        message = await self._pending[action_id].get()
        if message is None:
            raise AmiError("AMI connection closed while waiting for a reply")
        return message

    async def action(self, name: str, *, timeout: float = 5.0, **headers: str) -> AmiMessage:
        """Send an action and return its (first) reply."""
        action_id = await self._send(name, headers)
        try:
            async with asyncio.timeout(timeout):
                return await self._next(action_id)
        finally:
            self._pending.pop(action_id, None)

    async def action_list(
        self, name: str, *, timeout: float = 10.0, **headers: str
    ) -> list[AmiMessage]:
        """Send a list action; return the reply and its events up to the complete event."""
        action_id = await self._send(name, headers)
        messages: list[AmiMessage] = []
        try:
            async with asyncio.timeout(timeout):
                first = await self._next(action_id)
                messages.append(first)
                if first.get("Response") != "Success":
                    return messages
                while True:
                    message = await self._next(action_id)
                    messages.append(message)
                    if (message.get("EventList") or "").lower() == "complete":
                        return messages
        finally:
            self._pending.pop(action_id, None)

    async def wait_event(
        self,
        match: str | Callable[[AmiMessage], bool],
        *,
        timeout: float = 10.0,
        since: int = 0,
    ) -> AmiMessage:
        """First event (from index ``since`` of ``events``) matching a name or predicate."""

        def matches(message: AmiMessage) -> bool:
            return message.event == match if isinstance(match, str) else match(message)

        index = since
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    while index < len(self.events):
                        if matches(self.events[index]):
                            return self.events[index]
                        index += 1
                    if self._closed:
                        raise AmiError("AMI connection closed while waiting for an event")
                    await self._changed.wait()
        except TimeoutError:
            seen = [m.event for m in self.events[since:]][-40:]
            raise TimeoutError(
                f"no AMI event matching {match!r} within {timeout} s; last events: {seen}"
            ) from None


async def clear_queue(ami: RawAmi, queue: str) -> list[str]:
    """Remove every member of ``queue`` (the session's Asterisk is shared).

    Returns the interfaces removed.
    """
    removed = []
    for message in await ami.action_list("QueueStatus", Queue=queue):
        if message.event != "QueueMember":
            continue
        interface = message.get("Location") or message.get("Interface")
        if interface:
            reply = await ami.action("QueueRemove", Queue=queue, Interface=interface)
            if reply.get("Response") == "Success":
                removed.append(interface)
    return removed
