"""Plain data shared by the engines, the analytics, the rules and the store (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Engine names (see recordings.transcribe.engines).
ENGINES = ("vosk", "whisper-tiny.en", "whisper-base")

Party = Literal["caller", "agent", "mixed"]
PARTIES: tuple[Party, ...] = ("caller", "agent", "mixed")


@dataclass(frozen=True, slots=True)
class AudioSource:
    """Where one party's speech is: a mono file, or one channel of a multi-channel file."""

    party: Party
    path: str
    channel: int | None = None  # None: mono file (or the channels mixed)

    def as_json(self) -> dict[str, Any]:
        return {"party": self.party, "path": self.path, "channel": self.channel}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AudioSource:
        party = data.get("party")
        if party not in PARTIES:
            raise ValueError(f"bad party {party!r}")
        channel = data.get("channel")
        if channel is not None and (not isinstance(channel, int) or channel < 0):
            raise ValueError(f"bad channel {channel!r}")
        return cls(party=party, path=str(data["path"]), channel=channel)


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word (or Chinese character run) with its time in the recording."""

    text: str
    start: float
    end: float
    conf: float = 1.0


@dataclass(frozen=True, slots=True)
class TranscriptData:
    """What a finished job stores: redacted turns, analytics and searchable text."""

    call_id: str
    engine: str
    language: str
    duration_s: float
    turns: list[dict[str, Any]]
    analytics: dict[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class TagMatch:
    """A tag found on a call, with the time span that matched."""

    tag: str
    start_s: float | None
    end_s: float | None
    detail: dict[str, Any] = field(default_factory=dict)
