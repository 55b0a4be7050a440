"""Sentiment of a turn's text, from -1 (negative) to 1 (positive).

English: VADER (``vaderSentiment``). Chinese: a lexicon the site can edit
(``sentiment_zh.yaml``: positive and negative words, negators, intensifiers)
over jieba's word segmentation, scored and normalised the way VADER does.
Other languages: no score (None).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from recordings.transcribe.turns import MASK

DEFAULT_ZH_LEXICON = Path(__file__).with_name("sentiment_zh.yaml")

Scorer = Callable[[str], float | None]


@dataclass(frozen=True, slots=True)
class ZhLexicon:
    positive: dict[str, float]
    negative: dict[str, float]
    negators: frozenset[str]
    intensifiers: dict[str, float]


def load_zh_lexicon(path: Path = DEFAULT_ZH_LEXICON) -> ZhLexicon:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")

    def weights(key: str) -> dict[str, float]:
        raw = data.get(key) or {}
        if isinstance(raw, list):
            return {str(w): 1.0 for w in raw}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: {key}: expected a list or a mapping of word: weight")
        return {str(w): float(v) for w, v in raw.items()}

    return ZhLexicon(
        positive=weights("positive"),
        negative=weights("negative"),
        negators=frozenset(str(w) for w in data.get("negators") or []),
        intensifiers=weights("intensifiers"),
    )


def _normalise(score: float, alpha: float = 15.0) -> float:
    """VADER's squashing of a summed score into [-1, 1]."""
    return score / math.sqrt(score * score + alpha)


class ZhScorer:
    def __init__(self, lexicon: ZhLexicon) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.lexicon = lexicon
        self._jieba = jieba
        for word in (*lexicon.positive, *lexicon.negative, *lexicon.negators):
            jieba.add_word(word)

    def __call__(self, text: str) -> float | None:
        text = text.replace(MASK, " ")
        if not text.strip():
            return None
        lex = self.lexicon
        total, previous = 0.0, ["", ""]
        for token in self._jieba.lcut(text):
            token = token.strip()
            if not token:
                continue
            value = lex.positive.get(token, 0.0) - lex.negative.get(token, 0.0)
            if value:
                for before in previous:
                    value *= lex.intensifiers.get(before, 1.0)
                if any(before in lex.negators for before in previous):
                    value *= -0.74  # VADER's negation factor
                total += value
            previous = [previous[-1], token]
        return _normalise(total)


class EnScorer:
    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def __call__(self, text: str) -> float | None:
        text = text.replace(MASK, " ")
        if not text.strip():
            return None
        return float(self._vader.polarity_scores(text)["compound"])


@cache
def _scorer(language: str, zh_lexicon: Path) -> Scorer | None:
    if language == "en":
        return EnScorer()
    if language == "zh":
        return ZhScorer(load_zh_lexicon(zh_lexicon))
    return None


def scorer_for(language: str, zh_lexicon: Path = DEFAULT_ZH_LEXICON) -> Scorer | None:
    """The scorer of a language (built once per process), None when there is none."""
    return _scorer(language, zh_lexicon)
