"""Per-call analytics from the turns (pure): talk time, non-talk time,
interruptions, talk speed and sentiment, as stored with the transcript."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recordings.transcribe.turns import UNSPACED, Turn

#: Party B starts while A still has this much of a turn left: B talked over A.
TALK_OVER_S = 0.3
#: Gaps this long or longer are listed in ``non_talk.spans``.
LISTED_SILENCE_S = 2.0
#: The "end of the call" for its closing sentiment.
END_WINDOW_S = 30.0


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def non_talk(turns: list[Turn], duration_s: float) -> dict[str, Any]:
    """Time when nobody speaks, over the whole call (hold, dead air, ringing)."""
    talk = _merged([(t.start, t.end) for t in turns])
    gaps: list[tuple[float, float]] = []
    cursor = 0.0
    for start, end in talk:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if duration_s > cursor:
        gaps.append((cursor, duration_s))
    longest = max(gaps, key=lambda g: g[1] - g[0], default=(0.0, 0.0))
    return {
        "total_s": round(sum(e - s for s, e in gaps), 2),
        "longest_s": round(longest[1] - longest[0], 2),
        "longest_start": round(longest[0], 2),
        "longest_end": round(longest[1], 2),
        "spans": [[round(s, 2), round(e, 2)] for s, e in gaps if e - s >= LISTED_SILENCE_S],
    }


def interruptions(turns: list[Turn]) -> dict[str, Any]:
    """Turns that start while another party's turn goes on (talk-over)."""
    events: list[dict[str, Any]] = []
    for turn in turns:
        for other in turns:
            if other.party != turn.party and other.start < turn.start < other.end - TALK_OVER_S:
                events.append(
                    {"party": turn.party, "over": other.party, "at": round(turn.start, 2)}
                )
                break
    by_party: dict[str, int] = {}
    for event in events:
        by_party[event["party"]] = by_party.get(event["party"], 0) + 1
    return {"count": len(events), "by_party": by_party, "events": events}


def _units(turn: Turn, language: str) -> int:
    if language in UNSPACED:
        return sum(1 for w in turn.words for ch in w.text if ch.isalnum())
    return len(turn.words)


def talk(turns: list[Turn], language: str) -> tuple[dict[str, float], dict[str, Any]]:
    """Talk time per party and talk speed (words, or characters in Chinese, per minute)."""
    seconds: dict[str, float] = {}
    units: dict[str, int] = {}
    for turn in turns:
        seconds[turn.party] = seconds.get(turn.party, 0.0) + (turn.end - turn.start)
        units[turn.party] = units.get(turn.party, 0) + _units(turn, language)
    unit = "characters" if language in UNSPACED else "words"
    speed = {
        party: {
            "per_minute": round(units[party] / seconds[party] * 60, 1) if seconds[party] else 0.0,
            "unit": unit,
        }
        for party in seconds
    }
    return {p: round(s, 2) for p, s in seconds.items()}, speed


def score_sentiment(
    turns: list[Turn], language: str, scorer: Callable[[str], float | None] | None
) -> None:
    """Set each turn's sentiment (None when the language has no scorer)."""
    for turn in turns:
        turn.sentiment = scorer(turn.text(language)) if scorer is not None else None


def _mean(turns: list[Turn]) -> float | None:
    weighted = [(t.sentiment, len(t.words)) for t in turns if t.sentiment is not None]
    total = sum(n for _, n in weighted)
    if not total:
        return None
    return round(sum(s * n for s, n in weighted) / total, 3)


def sentiment_summary(
    turns: list[Turn], duration_s: float, end_window_s: float = END_WINDOW_S
) -> dict[str, Any]:
    """Sentiment per party over the call and over its last ``end_window_s`` seconds."""
    end_from = max(0.0, duration_s - end_window_s)
    closing = [t for t in turns if t.end > end_from]
    parties = sorted({t.party for t in turns})
    return {
        "overall": {p: _mean([t for t in turns if t.party == p]) for p in parties},
        "end": {p: _mean([t for t in closing if t.party == p]) for p in parties},
        "end_from_s": round(end_from, 2),
    }


def analyse(
    turns: list[Turn],
    duration_s: float,
    language: str,
    scorer: Callable[[str], float | None] | None,
) -> dict[str, Any]:
    """Every figure of a call; sets the turns' sentiment on the way."""
    score_sentiment(turns, language, scorer)
    talk_s, speed = talk(turns, language)
    return {
        "duration_s": round(duration_s, 2),
        "talk_s": talk_s,
        "non_talk": non_talk(turns, duration_s),
        "interruptions": interruptions(turns),
        "talk_speed": speed,
        "sentiment": sentiment_summary(turns, duration_s),
    }
