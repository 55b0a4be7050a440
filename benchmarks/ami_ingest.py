"""How fast the CTI takes in AMI events, next to panoramisk's parser alone.

A fake AMI server on loopback accepts the real client's login and then
streams realistic Asterisk 22 call events (18 a call, 20-40 headers each,
Chinese caller names, ``timestampevents=yes``) in writes cut at odd places:
inside header lines, inside the ``\\r\\n\\r\\n`` between frames and inside
multi-byte UTF-8 characters. The real path takes them in: ``AmiClient``
(socket reads, framing, the ordered queue), ``translate`` and ``CallCenter``
(queue mode: the core follows app_queue; effects are collected, not carried
out: no database, no WebSocket). Every event is checked on arrival (its name
and, when it has one, its caller name, against what was sent, in order), and
every call started in the core carries its caller name unharmed.

In the same run, panoramisk's own protocol parser (``AMIProtocol``, which
decodes each read and splits on ``\\r\\n\\r\\n``) parses the very same writes,
and each stage of the CTI's path is timed on its own (reads only, framing
and parsing, the queue, translation, the core), so the breakdown shows where
the time goes; the end-to-end run is repeated with the garbage collector
off to show its share.

Usage: python benchmarks/ami_ingest.py [--calls 4000] [--repeat 3]
Last line: {"events", "raw_events_per_s", "cti_events_per_s", "cti_vs_raw", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panoramisk.ami_protocol import AMIProtocol  # noqa: E402
from panoramisk.message import Message  # noqa: E402

from cti import dialplan  # noqa: E402
from cti.ami.client import AmiClient, Connected, FramedAmiProtocol  # noqa: E402
from cti.ami.translate import USED_EVENTS, translate  # noqa: E402
from cti.domain import effects as fx  # noqa: E402
from cti.domain import events as ev  # noqa: E402
from cti.domain.callcenter import CallCenter  # noqa: E402

QUEUES = ("general", "billing", "technical", "account")
AGENTS = 60
CONCURRENT = 25  # calls in progress at once in the stream
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫"


# --------------------------------------------------------------------- stream
def frame(fields: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields).encode() + b"\r\n"


def channel_headers(
    prefix: str,
    channel: str,
    state: tuple[str, str],
    number: str,
    name: str,
    connected: tuple[str, str],
    context: str,
    exten: str,
    uniqueid: str,
    linkedid: str,
) -> list[tuple[str, str]]:
    """The channel snapshot Asterisk 22 puts in every channel event."""
    return [
        (f"{prefix}Channel", channel),
        (f"{prefix}ChannelState", state[0]),
        (f"{prefix}ChannelStateDesc", state[1]),
        (f"{prefix}CallerIDNum", number),
        (f"{prefix}CallerIDName", name),
        (f"{prefix}ConnectedLineNum", connected[0]),
        (f"{prefix}ConnectedLineName", connected[1]),
        (f"{prefix}Language", "zh"),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", context),
        (f"{prefix}Exten", exten),
        (f"{prefix}Priority", "3"),
        (f"{prefix}Uniqueid", uniqueid),
        (f"{prefix}Linkedid", linkedid),
        (f"{prefix}Tenantid", ""),
    ]


@dataclass(frozen=True, slots=True)
class Sent:
    """What the consumer must see for one frame."""

    event: str
    caller_name: str | None  # the CallerIDName header, when the frame has one


def call_events(n: int, t0: float) -> list[tuple[bytes, Sent]]:
    """One call, as Asterisk 22 reports a queued call answered by an agent."""
    rnd = random.Random(n)
    name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2)))
    if n % 7 == 0:
        name += " (李氏贸易有限公司)"
    number = f"1{rnd.randint(3000000000, 9999999999)}"
    agent = f"{1000 + n % AGENTS}"
    queue = QUEUES[n % len(QUEUES)]
    uid = f"{int(t0)}.{2 * n}"
    auid = f"{int(t0)}.{2 * n + 1}"
    chan = f"PJSIP/trunk-{n:08x}"
    achan = f"PJSIP/agent{agent}-{n:08x}"
    ctx = dialplan.INBOUND_CONTEXT
    t = t0 + n * 0.01

    def caller(state: tuple[str, str] = ("6", "Up"), connected: tuple[str, str] = ("", "")) -> Any:
        return channel_headers("", chan, state, number, name, connected, ctx, "s", uid, uid)

    def dest(state: tuple[str, str]) -> Any:
        return channel_headers(
            "Dest", achan, state, agent, f"Agent {agent}", (number, name), ctx, "s", auid, uid
        )

    def agent_chan(state: tuple[str, str]) -> Any:
        return channel_headers(
            "", achan, state, agent, f"Agent {agent}", (number, name), ctx, "s", auid, uid
        )

    head = [("Privilege", "call,all"), ("SystemName", "pbx1")]
    out: list[tuple[bytes, Sent]] = []

    def emit(event: str, body: list[tuple[str, str]], caller_name: str | None = None) -> None:
        nonlocal t
        t += 0.05
        fields = [("Event", event), *head, *body, ("Timestamp", f"{t:.6f}")]
        names = [v for k, v in fields if k == "CallerIDName"]
        out.append((frame(fields), Sent(event, names[0] if names else None)))

    app = [("Application", "Queue"), ("AppData", f"{queue},tT,,,300")]
    member = [
        ("Queue", queue),
        ("Interface", f"PJSIP/agent{agent}"),
        ("MemberName", agent),
        ("StateInterface", f"PJSIP/agent{agent}"),
    ]
    emit("Newchannel", caller(("4", "Ring")))
    emit("VarSet", [*caller(), ("Variable", dialplan.IVR_PATH), ("Value", "lang=zh>menu=1")])
    emit(
        "Newexten",
        [
            *caller(),
            ("Extension", "s"),
            ("Application", "AGI"),
            ("AppData", "agi://127.0.0.1/hotline"),
        ],
    )
    emit("VarSet", [*caller(), ("Variable", dialplan.VERIFIED), ("Value", "1")])
    emit("VarSet", [*caller(), ("Variable", dialplan.ROUTING), ("Value", f"{queue}|zh|3|")])
    emit("Newexten", [*caller(), ("Extension", "s"), *app])
    emit("QueueCallerJoin", [*caller(), ("Queue", queue), ("Position", "1"), ("Count", "1")])
    emit("Newchannel", agent_chan(("0", "Down")))
    emit("AgentCalled", [*caller(), *dest(("0", "Down")), *member])
    emit("DialBegin", [*caller(), *dest(("0", "Down")), ("DialString", f"agent{agent}")])
    emit("Newstate", agent_chan(("5", "Ringing")))
    emit("DialEnd", [*caller(), *dest(("6", "Up")), ("DialStatus", "ANSWER")])
    emit(
        "AgentConnect",
        [*caller(), *dest(("6", "Up")), *member, ("HoldTime", "4"), ("RingTime", "2")],
    )
    emit("BridgeEnter", [("BridgeUniqueid", f"b-{uid}"), ("BridgeType", "basic"), *caller()])
    emit("BridgeLeave", [("BridgeUniqueid", f"b-{uid}"), ("BridgeType", "basic"), *caller()])
    emit(
        "AgentComplete",
        [
            *caller(),
            *dest(("6", "Up")),
            *member,
            ("HoldTime", "4"),
            ("TalkTime", "93"),
            ("Reason", "caller"),
        ],
    )
    emit("Hangup", [*agent_chan(("6", "Up")), ("Cause", "16"), ("Cause-txt", "Normal Clearing")])
    emit("Hangup", [*caller(), ("Cause", "16"), ("Cause-txt", "Normal Clearing")])
    return out


def build_stream(calls: int) -> tuple[bytes, list[Sent], list[str]]:
    """The whole stream (agents joining, then calls interleaved), what each frame
    must arrive as, and each call's caller name in call order."""
    t0 = 1_760_000_000.0
    frames: list[tuple[bytes, Sent]] = []
    for a in range(AGENTS):
        agent = f"{1000 + a}"
        for queue in QUEUES:
            fields = [
                ("Event", "QueueMemberAdded"),
                ("Privilege", "agent,all"),
                ("Queue", queue),
                ("MemberName", agent),
                ("Interface", f"PJSIP/agent{agent}"),
                ("StateInterface", f"PJSIP/agent{agent}"),
                ("Membership", "dynamic"),
                ("Penalty", "0"),
                ("CallsTaken", "0"),
                ("LastCall", "0"),
                ("InCall", "0"),
                ("Status", "1"),
                ("Paused", "0"),
                ("PausedReason", ""),
                ("Ringinuse", "0"),
                ("Wrapuptime", "0"),
                ("LastPause", "0"),
                ("LoginTime", f"{int(t0)}"),
                ("Timestamp", f"{t0:.6f}"),
            ]
            frames.append((frame(fields), Sent("QueueMemberAdded", None)))
    names: list[str] = []
    # CONCURRENT calls at a time, their events interleaved one by one
    for start in range(0, calls, CONCURRENT):
        batch = [call_events(n, t0) for n in range(start, min(start + CONCURRENT, calls))]
        names.extend(next(s.caller_name for _, s in b if s.caller_name) or "" for b in batch)
        for step in range(len(batch[0])):
            frames.extend(b[step] for b in batch)
    return b"".join(f for f, _ in frames), [s for _, s in frames], names


def odd_cuts(data: bytes, seed: int = 7) -> list[bytes]:
    """Writes of 200 B to 24 KiB whose ends fall at odd places, many of them
    inside a multi-byte UTF-8 character or between the two CRLFs of a frame end."""
    rnd = random.Random(seed)
    chunks: list[bytes] = []
    pos = 0
    while pos < len(data):
        end = min(len(data), pos + rnd.randint(200, 24 * 1024))
        if end < len(data):
            kind = rnd.random()
            if kind < 0.5:  # inside a UTF-8 character, when one is near
                probe = end
                while probe < min(len(data), end + 512) and data[probe] < 0x80:
                    probe += 1
                if probe < len(data) and data[probe] >= 0x80:
                    end = probe + 1 if data[probe + 1] & 0xC0 == 0x80 else probe
            elif kind < 0.7:  # between the two CRLFs of a frame end
                nxt = data.find(b"\r\n\r\n", end)
                if nxt > 0:
                    end = nxt + 2
        chunks.append(data[pos:end])
        pos = end
    return chunks


def utf8_cuts(chunks: list[bytes]) -> int:
    """How many writes end inside a multi-byte character."""
    count = 0
    for chunk in chunks[:-1]:
        tail = chunk[-3:]
        for i, byte in enumerate(reversed(tail)):
            if byte & 0xC0 == 0xC0:  # a lead byte whose character continues
                need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                count += need > i + 1
                break
            if byte & 0xC0 != 0x80:
                break
    return count


# --------------------------------------------------------------------- checks
class Checker:
    """Every event checked on arrival, in order; with ``used``, the events
    outside it must have been skipped by the client (counted, not delivered)."""

    def __init__(self, sent: list[Sent], used: frozenset[str] | None = None) -> None:
        self.sent = sent
        self.used = used
        self.next = 0
        self.skipped = 0
        self.arrivals = sum(used is None or s.event in used for s in sent)

    def _pass_skipped(self, upto: int) -> None:
        while (
            self.next < upto
            and self.used is not None
            and self.sent[self.next].event not in self.used
        ):
            self.next += 1
            self.skipped += 1

    def __call__(self, message: Message) -> None:
        self._pass_skipped(len(self.sent))
        want = self.sent[self.next]
        if message["Event"] != want.event:
            raise AssertionError(f"event {self.next}: {message['Event']!r}, sent {want.event!r}")
        if want.caller_name is not None and message["CallerIDName"] != want.caller_name:
            raise AssertionError(
                f"event {self.next}: caller {message['CallerIDName']!r}, sent {want.caller_name!r}"
            )
        self.next += 1

    def finish(self, skipped: int) -> None:
        """All sent: every event arrived or was skipped, none twice."""
        self._pass_skipped(len(self.sent))
        if self.next != len(self.sent) or skipped != self.skipped:
            raise AssertionError(
                f"{self.next} of {len(self.sent)} events accounted for; "
                f"{skipped} skipped, {self.skipped} expected skipped"
            )


def new_core() -> CallCenter:
    core = CallCenter(QUEUES)
    for a in range(AGENTS):
        agent = f"{1000 + a}"
        core.register_agent(agent, f"PJSIP/agent{agent}", QUEUES)
        core.login(agent, 0.0)
        core.ready(agent, 0.0)
    return core


class Core:
    """The translator and the core, as the service's consumer drives them."""

    def __init__(self, names: list[str]) -> None:
        self.core = new_core()
        self.names = names
        self.started = 0
        self.cdrs = 0
        self.effects = 0

    def take(self, message: Message, now: float) -> None:
        for event in translate(message, now, dialplan.INBOUND_CONTEXTS):
            if isinstance(event, ev.CallStarted):
                if event.caller_name != self.names[self.started]:
                    raise AssertionError(f"call {self.started}: core got {event.caller_name!r}")
                self.started += 1
            effects = self.core.apply(event)
            self.effects += len(effects)
            self.cdrs += sum(isinstance(e, fx.StoreCdr) for e in effects)


# --------------------------------------------------------------------- the server
class FakeAmi:
    """Accepts a login, says FullyBooted, answers pings; streams on ``play``."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                aid = fields.get("ActionID", "")
                action = fields.get("Action", "")
                if action == "Login":
                    writer.write(
                        frame([("Response", "Success"), ("ActionID", aid), ("Message", "ok")])
                    )
                    writer.write(frame([("Event", "FullyBooted"), ("Privilege", "system,all")]))
                    self.ready.set()
                else:
                    writer.write(frame([("Response", "Success"), ("ActionID", aid)]))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass

    async def play(self, chunks: list[bytes]) -> None:
        assert self.writer is not None
        for chunk in chunks:
            self.writer.write(chunk)
            await self.writer.drain()


async def serve(handler: Callable[..., Any]) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


# --------------------------------------------------------------------- runs
async def run_cti(
    chunks: list[bytes], sent: list[Sent], names: list[str], used: frozenset[str] | None
) -> dict[str, Any]:
    """The real client, translator and core, fed by the fake server."""
    ami = FakeAmi()
    server, port = await serve(ami.serve)
    client = AmiClient("127.0.0.1", port, "cti", "secret", ping_interval=60, events=used)
    runner = asyncio.create_task(client.run(first_connect_retries=3))
    check = Checker(sent, used)
    core = Core(names)
    arrived = 0
    try:
        async with asyncio.timeout(10):
            while not isinstance(await client.events.get(), Connected):
                pass
        player = asyncio.create_task(ami.play(chunks))
        started = time.perf_counter()
        async with asyncio.timeout(300):
            while arrived < check.arrivals:
                item = await client.events.get()
                if isinstance(item, Message):
                    check(item)
                    core.take(item, 0.0)
                    arrived += 1
        elapsed = time.perf_counter() - started
        await player
        check.finish(client.skipped)
    finally:
        runner.cancel()
        with contextlib.suppress(BaseException):  # cancelled, or the run's own error
            await runner
        server.close()
    if core.started != len(names) or core.cdrs != len(names):
        raise AssertionError(f"{core.started} calls started, {core.cdrs} CDRs; {len(names)} sent")
    return {"seconds": elapsed, "effects": core.effects}


async def run_reads(chunks: list[bytes]) -> float:
    """Socket reads only: the same writes into a protocol that counts bytes."""
    total = sum(map(len, chunks))
    done = asyncio.Event()
    got = 0

    class Counting(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            nonlocal got
            got += len(data)
            if got >= total:
                done.set()

    writers: list[asyncio.StreamWriter] = []
    connected = asyncio.Event()

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        connected.set()
        await done.wait()

    server, port = await serve(handler)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(Counting, "127.0.0.1", port)
    await connected.wait()
    started = time.perf_counter()
    for chunk in chunks:
        writers[0].write(chunk)
        await writers[0].drain()
    await done.wait()
    elapsed = time.perf_counter() - started
    transport.close()
    server.close()
    return elapsed


class NullTransport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def abort(self) -> None:
        raise AssertionError("the framing gave up on the stream")


def run_raw(chunks: list[bytes], sent: list[Sent]) -> tuple[float, int]:
    """panoramisk's own parser (decode each read, split, ``Message.from_line``)."""
    check = Checker(sent)
    damaged = 0

    class Raw(AMIProtocol):  # type: ignore[misc]
        def handle_message(self, message: Message) -> None:
            nonlocal damaged
            want = check.sent[check.next]
            if message["Event"] != want.event:
                raise AssertionError(f"raw event {check.next}: {message['Event']!r}")
            if want.caller_name is not None and message["CallerIDName"] != want.caller_name:
                damaged += 1  # its decoding of each read loses split characters
            check.next += 1

    protocol = Raw()
    protocol.connection_made(NullTransport())
    protocol.encoding = "utf-8"
    protocol.version = "9.0.0"
    started = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    elapsed = time.perf_counter() - started
    if check.next != len(sent):
        raise AssertionError(f"raw parser gave {check.next} events of {len(sent)}")
    return elapsed, damaged


def run_framing(
    chunks: list[bytes], sent: list[Sent], used: frozenset[str] | None
) -> tuple[float, list[Message]]:
    """The CTI's framing and parsing alone, on the same writes (no socket, no queue):
    timed with each event checked and let go, then once more to keep them all
    for the next stages (holding 70,000 messages would time the garbage
    collector's walks over them, not the framing)."""
    wanted = None if used is None else frozenset(n.encode() for n in {*used, "FullyBooted"})

    class Sink:
        def __init__(self, take: Callable[[Message], None]) -> None:
            self.event_received = take
            self.wanted = wanted
            self.skipped = 0

    def feed(take: Callable[[Message], None]) -> tuple[float, int]:
        protocol = FramedAmiProtocol()
        protocol.client = Sink(take)  # type: ignore[assignment]
        protocol.connection_made(NullTransport())
        protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")
        started = time.perf_counter()
        for chunk in chunks:
            protocol.data_received(chunk)
        return time.perf_counter() - started, protocol.client.skipped

    check = Checker(sent, used)
    elapsed, skipped = feed(check)
    check.finish(skipped)
    got: list[Message] = []
    feed(got.append)
    return elapsed, got


async def run_queue(messages: list[Message]) -> float:
    """The ordered queue alone: put as the protocol does, get as the consumer does."""
    queue: asyncio.Queue[Message] = asyncio.Queue()

    async def consume() -> None:
        for _ in range(len(messages)):
            await queue.get()

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    started = time.perf_counter()
    for start in range(0, len(messages), 64):  # about what one read brings
        for message in messages[start : start + 64]:
            queue.put_nowait(message)
        await asyncio.sleep(0)
    await consumer
    return time.perf_counter() - started


def run_translate(messages: list[Message]) -> tuple[float, list[ev.DomainEvent]]:
    out: list[ev.DomainEvent] = []
    contexts = dialplan.INBOUND_CONTEXTS
    started = time.perf_counter()
    for message in messages:
        out += translate(message, 0.0, contexts)
    return time.perf_counter() - started, out


def run_core(events: list[ev.DomainEvent]) -> float:
    core = new_core()
    started = time.perf_counter()
    for event in events:
        core.apply(event)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument(
        "--all-events",
        action="store_true",
        help="decode every event (the client without the service's list of used events)",
    )
    args = parser.parse_args()
    used = None if args.all_events else USED_EVENTS

    data, sent, names = build_stream(args.calls)
    chunks = odd_cuts(data)
    events = len(sent)
    headers = [f.count(b"\r\n") for f in data.split(b"\r\n\r\n")[:-1]]
    print(
        f"stream: {args.calls} calls, {events} events, {len(data) / 1e6:.1f} MB, "
        f"{min(headers)}-{max(headers)} headers an event; {len(chunks)} writes, "
        f"{utf8_cuts(chunks)} of them ending inside a UTF-8 character"
    )
    unused = sum(s.event not in USED_EVENTS for s in sent)
    print(
        f"events the CTI does not use: {unused} "
        + ("(decoded anyway: --all-events)" if used is None else "(skipped undecoded)")
    )
    best: dict[str, float] = {}

    def keep(stage: str, seconds: float) -> None:
        best[stage] = min(best.get(stage, float("inf")), seconds)

    damaged = 0
    for _ in range(args.repeat):
        raw_s, damaged = run_raw(chunks, sent)
        keep("raw", raw_s)
        keep("reads", await run_reads(chunks))
        framing_s, messages = run_framing(chunks, sent, used)
        keep("framing", framing_s)
        keep("queue", await run_queue(messages))
        translate_s, domain = run_translate(messages)
        keep("translate", translate_s)
        keep("core", run_core(domain))
        result = await run_cti(chunks, sent, names, used)
        keep("cti", result["seconds"])
        gc.disable()  # what the cyclic garbage collector's passes cost of that
        try:
            keep("cti_no_gc", (await run_cti(chunks, sent, names, used))["seconds"])
        finally:
            gc.enable()

    def rate(stage: str) -> float:
        return events / best[stage]

    print(f"raw parser: caller names damaged by its per-read decoding: {damaged} of {len(names)}")
    print(f"{'stage':<34} {'events/s':>12} {'us/event':>9}")
    labels = {
        "raw": "panoramisk parser (reference)",
        "reads": "socket reads only",
        "framing": "CTI framing + parsing",
        "queue": "ordered queue (put + get)",
        "translate": "translate",
        "core": "core (CallCenter.apply)",
        "cti": "CTI end to end (socket..core)",
        "cti_no_gc": "  the same, garbage collector off",
    }
    for stage, label in labels.items():
        print(f"{label:<34} {rate(stage):>12,.0f} {1e6 / rate(stage):>9.2f}")
    stages = sum(best[s] for s in ("reads", "framing", "queue", "translate", "core"))
    print(
        f"sum of the CTI stages: {1e6 * stages / events:.2f} us/event; the rest of end to end "
        f"is the event loop, the arrival checks and the garbage collector"
    )
    print(
        json.dumps(
            {
                "events": events,
                "calls": args.calls,
                "skip_unused": used is not None,
                "raw_events_per_s": round(rate("raw")),
                "cti_events_per_s": round(rate("cti")),
                "cti_vs_raw": round(best["raw"] / best["cti"], 3),
                "cti_no_gc_events_per_s": round(rate("cti_no_gc")),
                "stage_us_per_event": {
                    s: round(1e6 * best[s] / events, 3)
                    for s in ("reads", "framing", "queue", "translate", "core")
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
