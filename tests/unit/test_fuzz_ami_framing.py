"""Property-based tests of the AMI framer: any cuts, any text, garbage in between.

The framer is fed from memory through the asyncio protocol interface (the
same calls the event loop makes), so each example takes microseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cti.ami.client import AmiClient, FramedAmiProtocol

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
FAST = settings(max_examples=200, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# header names as AMI writes them (letters, digits, '-'); values are one line of any text
header_names = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"),
    min_size=1,
    max_size=12,
).filter(lambda name: name.lower() not in ("event", "response", "actionid", "result", "content"))
header_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
)
ami_events = st.builds(
    lambda name, headers: {"Event": name, **headers},
    st.sampled_from(["Newchannel", "VarSet", "DialBegin", "Hangup", "QueueCallerJoin"]),
    st.dictionaries(header_names, header_values, max_size=6),
)


def encode(fields: Mapping[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in fields.items()) + b"\r\n"


class _Transport:
    aborted = False

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        pass


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def feed(chunks: list[bytes]) -> tuple[list[dict[str, Any]], list[str]]:
    """Chunks as the event loop would hand them over: (events queued, warnings logged)."""
    client = AmiClient("127.0.0.1", 0, "cti", "secret")
    protocol = FramedAmiProtocol()
    protocol.client = client
    protocol.connection_made(_Transport())
    warnings = _Warnings()
    logger = logging.getLogger("cti.ami.client")
    logger.addHandler(warnings)
    try:
        for chunk in chunks:
            protocol.data_received(chunk)
    finally:
        logger.removeHandler(warnings)
    assert not protocol.transport.aborted
    queued = []
    while not client.events.empty():
        message = client.events.get_nowait()
        queued.append({k: v for k, v in message.items() if k != "content"})
    return queued, warnings.messages


def cut(data: bytes, positions: list[int]) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in positions})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FAST
@given(st.lists(ami_events, max_size=6), st.lists(st.integers(min_value=0), max_size=12))
@example(
    [{"Event": "Newchannel", "CallerIDName": "张伟 José Müller"}],
    [len(BANNER) + len("Event: Newchannel\r\nCallerIDName: 张".encode()) + 1],
)
@example([{"Event": "VarSet", "Variable": "HOTLINE_IVR_PATH", "Value": ""}], [])  # empty last value
@example([{"Event": "Newchannel", "CallerIDName": "Ann "}], [])  # a trailing space is kept
def test_any_cuts_of_a_valid_stream_give_the_same_events_in_order(
    events: list[dict[str, str]], positions: list[int]
) -> None:
    stream = BANNER + b"".join(encode(e) for e in events)
    received, warnings = feed(cut(stream, positions))
    assert received == events
    assert warnings == []


@FAST
@given(
    st.lists(st.binary(max_size=40).filter(lambda g: b"\r\n\r\n" not in g), max_size=4),
    st.lists(ami_events, min_size=1, max_size=4),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_garbage_frames_are_reported_and_lose_no_following_event(
    garbage: list[bytes], events: list[dict[str, str]], positions: list[int]
) -> None:
    # garbage that reads as "Name: value" lines would be a frame: keep it header-less
    junk = [g.replace(b": ", b"::").rstrip(b"\r") for g in garbage]
    junk = junk[: len(events)]  # each piece of garbage comes before an event
    pieces = [BANNER]
    for n, event in enumerate(events):
        if n < len(junk):
            pieces.append(junk[n] + b"\r\n\r\n")
        pieces.append(encode(event))
    stream = b"".join(pieces)
    received, warnings = feed(cut(stream, positions))
    assert received == events
    blank = sum(1 for j in junk if not j.decode("utf-8", "replace").strip())
    assert len(warnings) == len(junk) - blank
    assert all("ignored" in w for w in warnings)
