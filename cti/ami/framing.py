"""AMI frames from a byte stream, and events parsed from them without copies to spare.

Asterisk ends every message with an empty line (``\\r\\n\\r\\n``). Reads from
the socket cut the stream anywhere, inside a header or inside a multi-byte
UTF-8 character, so ``FrameBuffer`` cuts complete frames from bytes first and
decoding happens per frame (``parse_message``). The buffer is consumed once
per read, not once per frame.

``parse_message`` gives the same ``panoramisk.message.Message`` as
panoramisk's ``Message.from_line`` (case-insensitive headers, repeated headers
as lists, the ``content`` key), built in one pass; responses with a body and
frames with repeated headers go through panoramisk's own parser. The result
is an ``AmiMessage``, whose lookups cost one call instead of three.
"""

from __future__ import annotations

from urllib.parse import unquote

from panoramisk.message import Message

FRAME_END = b"\r\n\r\n"
MAX_FRAME_BYTES = 1 << 20
_EVENT_PREFIX = b"Event: "
_BODY_RESPONSES = ("Response: Follows", "Response: Fail")


class MalformedFrame(ValueError):
    """A frame with neither an ``Event`` nor a ``Response`` header."""


class FrameBuffer:
    """Cuts complete frames out of the bytes read so far.

    A read without a frame end is only kept (no copy), so a large frame
    arriving in many reads costs linear time."""

    __slots__ = ("_parts", "_size", "_tail", "max_bytes")

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._tail = b""  # the last 3 bytes kept, for a frame end across reads
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        """Bytes kept that do not make a complete frame yet."""
        return self._size

    @property
    def overflowed(self) -> bool:
        """What is kept has no frame end within ``max_bytes``: not AMI."""
        return self._size > self.max_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by ``data`` (without their ``\\r\\n\\r\\n``), in order."""
        if self._parts:
            seam = self._tail + data[:3]
            if FRAME_END not in data and FRAME_END not in seam:
                self._parts.append(data)
                self._size += len(data)
                self._tail = (self._tail + data[-3:])[-3:]
                return []
            self._parts.append(data)
            data = b"".join(self._parts)
        frames = data.split(FRAME_END)
        rest = frames.pop()
        self._parts = [rest] if rest else []
        self._size = len(rest)
        self._tail = rest[-3:]
        return frames


def event_name(frame: bytes) -> bytes | None:
    """The event name of a frame whose first header is ``Event``, as bytes; else None.

    Asterisk writes ``Event:`` first; lets a caller skip events it does not
    use before decoding them."""
    if not frame.startswith(_EVENT_PREFIX):
        return None
    end = frame.find(b"\r", 7)
    return frame[7:end] if end >= 0 else frame[7:]


class AmiMessage(Message):  # type: ignore[misc]
    """panoramisk's ``Message`` with cheaper case-insensitive lookups."""

    def get(self, key: str, default: object = None) -> object:
        item = self._store.get(key.lower())
        return default if item is None else item[1]

    def __getitem__(self, key: str) -> object:
        return self._store[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store


def parse_message(frame: bytes) -> Message | None:
    """One frame (bytes, without its end) as a ``Message``; None for a blank one.

    Invalid UTF-8 is replaced, not dropped. Raises ``MalformedFrame`` for a
    frame with neither ``Event`` nor ``Response``."""
    # only line breaks are trimmed: a last header "Value: " keeps its empty value
    text = frame.decode("utf-8", "replace").strip("\r\n")
    if not text.strip():
        return None
    if text.startswith(_BODY_RESPONSES):
        return _panoramisk(text)
    store: dict[str, tuple[str, object]] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        lower = key.lower()
        if lower in store:
            return _panoramisk(text)  # repeated headers become lists there
        if lower == "result":
            value = unquote(value).strip()
        store[lower] = (key, value)
    if "event" not in store and "response" not in store:
        raise MalformedFrame(f"AMI frame without Event or Response: {text[:200]!r}")
    store["content"] = ("content", "")
    message = AmiMessage.__new__(AmiMessage)
    message._store = store
    message.manager = None
    return message


def _panoramisk(text: str) -> Message:
    message = Message.from_line(text)
    if message is None:
        raise MalformedFrame(f"AMI frame without Event or Response: {text[:200]!r}")
    return message
