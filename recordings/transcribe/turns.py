"""Words of each party grouped into turns, and turns as stored (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recordings.transcribe.types import Party, Word

#: Languages written without spaces between words.
UNSPACED = frozenset({"zh", "yue", "ja"})
#: A pause longer than this ends a party's turn.
TURN_GAP_S = 1.0
MASK = "[redacted]"


@dataclass(slots=True)
class Turn:
    party: Party
    words: list[Word]
    masked: set[int] = field(default_factory=set)  # indexes of redacted words
    sentiment: float | None = None

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return max(w.end for w in self.words)

    def text(self, language: str) -> str:
        """The turn's words joined as the language writes them, redacted runs as one mark."""
        parts: list[str] = []
        for index, word in enumerate(self.words):
            if index in self.masked:
                if not parts or parts[-1] != MASK:
                    parts.append(MASK)
            else:
                parts.append(word.text)
        if language in UNSPACED:
            joined = ""
            for part in parts:
                joined += f" {part} " if part == MASK else part
            return " ".join(joined.split())
        return " ".join(parts)

    def as_json(self, language: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "party": self.party,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "text": self.text(language),
            "words": [
                {
                    "w": MASK if i in self.masked else w.text,
                    "start": round(w.start, 2),
                    "end": round(w.end, 2),
                    "conf": round(w.conf, 3),
                    **({"redacted": True} if i in self.masked else {}),
                }
                for i, w in enumerate(self.words)
            ],
        }
        data["sentiment"] = None if self.sentiment is None else round(self.sentiment, 3)
        return data


def build_turns(
    words_by_party: Mapping[Party, Iterable[Word]], gap_s: float = TURN_GAP_S
) -> list[Turn]:
    """Each party's words, split where that party pauses longer than ``gap_s``;
    all turns in the order they start."""
    turns: list[Turn] = []
    for party, words in words_by_party.items():
        current: list[Word] = []
        for word in sorted(words, key=lambda w: w.start):
            if current and word.start - max(w.end for w in current) > gap_s:
                turns.append(Turn(party, current))
                current = []
            current.append(word)
        if current:
            turns.append(Turn(party, current))
    turns.sort(key=lambda t: (t.start, t.party))
    return turns
