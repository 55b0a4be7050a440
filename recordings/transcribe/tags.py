"""Tag rules: a YAML file the site edits, validated, applied to each transcript.

Every error names the file, the rule and the problem::

    tag_rules.yaml: rule 2 ('cancel'): keywords.en: Input should be a valid list

A rule is a ``tag`` and one condition:

* ``keywords``: phrases per language (``en``, ``zh``..., ``any`` for every
  language) said by ``party`` (caller, agent or any); English matches whole
  words, case-insensitive, ``cancel*`` matches words that start so; Chinese
  matches the characters (Simplified);
* ``silence_over_s``: a stretch of non-talk time longer than this;
* ``sentiment_below``: the ``party``'s sentiment at the end of the call
  (``window: end``) or in any turn (``window: turn``) below this;
* ``interruptions_over``: more talk-overs than this (by ``party``);
* ``required_phrases`` + ``within_s``: tagged when the ``party`` (the agent,
  by default) did NOT say one of the phrases in the call's first ``within_s``
  seconds (greeting, identity check).

Each match keeps the time span it was found at; ``red_flags`` names the tags
that are escalated at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cti.routing.config import RoutesConfigError, load_yaml
from recordings.transcribe.turns import UNSPACED, Turn
from recordings.transcribe.types import TagMatch

DEFAULT_RULES_FILE = Path(__file__).with_name("tag_rules.yaml")
_TAG_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
_STRIP = re.compile(r"[^\w*']+")

PartyFilter = Literal["caller", "agent", "any"]


class TagRulesError(ValueError):
    def __init__(self, source: str, problem: str, rule: str | None = None) -> None:
        super().__init__(f"{source}: {rule}: {problem}" if rule else f"{source}: {problem}")
        self.source, self.rule, self.problem = source, rule, problem


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: str
    party: PartyFilter = "any"

    @field_validator("tag")
    @classmethod
    def _tag_name(cls, value: str) -> str:
        if not _TAG_NAME.match(value):
            raise ValueError("lower-case letters, digits, '_', '-' or '.', at most 64")
        return value

    def said_by(self, turn: Turn) -> bool:
        return self.party == "any" or turn.party in (self.party, "mixed")


def _phrases(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for language, phrases in value.items():
        if not re.match(r"^[a-z]{2,3}$", language):
            raise ValueError(f"{language!r} is not a language code (en, zh, any...)")
        for phrase in phrases:
            if not phrase.strip():
                raise ValueError(f"{language}: an empty phrase")
    return value


class KeywordRule(_Rule):
    keywords: dict[str, list[str]] = Field(min_length=1)
    _check = field_validator("keywords")(_phrases)


class SilenceRule(_Rule):
    silence_over_s: float = Field(gt=0)


class SentimentRule(_Rule):
    sentiment_below: float = Field(ge=-1, le=1)
    window: Literal["end", "turn"] = "end"
    party: PartyFilter = "caller"


class InterruptionRule(_Rule):
    interruptions_over: int = Field(ge=0)


class RequiredPhraseRule(_Rule):
    required_phrases: dict[str, list[str]] = Field(min_length=1)
    within_s: float = Field(gt=0)
    party: PartyFilter = "agent"
    _check = field_validator("required_phrases")(_phrases)


Rule = KeywordRule | SilenceRule | SentimentRule | InterruptionRule | RequiredPhraseRule
_KINDS: dict[str, type[_Rule]] = {
    "keywords": KeywordRule,
    "silence_over_s": SilenceRule,
    "sentiment_below": SentimentRule,
    "interruptions_over": InterruptionRule,
    "required_phrases": RequiredPhraseRule,
}


class TagRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    rules: tuple[Rule, ...]
    red_flags: frozenset[str] = frozenset()


def _problem(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
        for err in exc.errors()
    )


def parse_rules(data: Any, source: str = "<tag rules>") -> TagRules:
    if not isinstance(data, dict):
        raise TagRulesError(source, "expected a mapping with 'version' and 'rules'")
    unknown = set(data) - {"version", "rules", "red_flags"}
    if unknown:
        raise TagRulesError(source, f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if data.get("version") != 1:
        raise TagRulesError(source, f"version: expected 1, got {data.get('version')!r}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise TagRulesError(source, "rules: expected a non-empty list")
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules, start=1):
        name = f"rule {index}"
        if not isinstance(raw, dict):
            raise TagRulesError(source, "expected a mapping", name)
        if isinstance(raw.get("tag"), str):
            name += f" ({raw['tag']!r})"
        kinds = [key for key in _KINDS if key in raw]
        if len(kinds) != 1:
            raise TagRulesError(
                source, f"needs exactly one of {', '.join(_KINDS)} (found {len(kinds)})", name
            )
        try:
            rules.append(_KINDS[kinds[0]].model_validate(raw))  # type: ignore[arg-type]
        except ValidationError as exc:
            raise TagRulesError(source, _problem(exc), name) from None
    tags = {rule.tag for rule in rules}
    red_flags = data.get("red_flags") or []
    if not isinstance(red_flags, list) or not all(isinstance(t, str) for t in red_flags):
        raise TagRulesError(source, "red_flags: expected a list of tag names")
    missing = sorted(set(red_flags) - tags)
    if missing:
        raise TagRulesError(source, f"red_flags: no rule makes {', '.join(missing)}")
    return TagRules(rules=tuple(rules), red_flags=frozenset(red_flags))


def load_rules(path: Path | None = None) -> TagRules:
    path = path or DEFAULT_RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TagRulesError(str(path), f"cannot read: {exc.strerror}") from exc
    try:
        data = load_yaml(text, str(path))
    except RoutesConfigError as exc:
        raise TagRulesError(str(path), exc.problem) from None
    return parse_rules(data, str(path))


# --------------------------------------------------------------- matching
def _phrase_spans(turn: Turn, phrases: list[str], language: str) -> list[tuple[str, int, int]]:
    """(phrase, first word, last word) of each phrase said in the turn; redacted
    words never match."""
    found: list[tuple[str, int, int]] = []
    if language in UNSPACED:
        text, owner = "", []
        for index, word in enumerate(turn.words):
            piece = "" if index in turn.masked else word.text.replace(" ", "")
            text += piece
            owner += [index] * len(piece)
        for phrase in phrases:
            needle = phrase.replace(" ", "")
            for match in re.finditer(re.escape(needle), text):
                found.append((phrase, owner[match.start()], owner[match.end() - 1]))
        return found
    tokens = [
        "" if i in turn.masked else _STRIP.sub("", w.text.lower()).strip("'")
        for i, w in enumerate(turn.words)
    ]
    for phrase in phrases:
        wanted = [p for p in (_STRIP.sub("", t).strip("'") for t in phrase.lower().split()) if p]
        if not wanted:
            continue
        for start in range(len(tokens) - len(wanted) + 1):
            if all(
                tokens[start + k].startswith(p[:-1]) and tokens[start + k]
                if p.endswith("*")
                else tokens[start + k] == p
                for k, p in enumerate(wanted)
            ):
                found.append((phrase, start, start + len(wanted) - 1))
    return found


def _widest(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """One match per stretch of words: a match inside another ("your manager" in
    "speak to your manager", or the same words twice) is dropped."""
    kept: list[tuple[str, int, int]] = []
    for span in sorted(spans, key=lambda s: (s[1] - s[2], s[1])):  # widest first
        if not any(k[1] <= span[1] and span[2] <= k[2] for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s[1])


def _for_language(phrases: dict[str, list[str]], language: str) -> list[str]:
    return [*phrases.get(language, []), *phrases.get("any", [])]


def apply_rules(
    rules: TagRules, turns: list[Turn], analytics: dict[str, Any], language: str
) -> list[TagMatch]:
    """The tags of a call, each with the time span it matched at."""
    matches: list[TagMatch] = []
    for rule in rules.rules:
        detail: dict[str, Any] = {"red_flag": True} if rule.tag in rules.red_flags else {}
        if isinstance(rule, KeywordRule):
            phrases = _for_language(rule.keywords, language)
            for turn in turns:
                if not rule.said_by(turn):
                    continue
                for phrase, first, last in _widest(_phrase_spans(turn, phrases, language)):
                    matches.append(
                        TagMatch(
                            rule.tag,
                            round(turn.words[first].start, 2),
                            round(turn.words[last].end, 2),
                            {**detail, "phrase": phrase, "party": turn.party},
                        )
                    )
        elif isinstance(rule, SilenceRule):
            silence = analytics.get("non_talk", {})
            for start, end in silence.get("spans", []):
                if end - start > rule.silence_over_s:
                    matches.append(
                        TagMatch(rule.tag, start, end, {**detail, "seconds": round(end - start, 2)})
                    )
        elif isinstance(rule, SentimentRule):
            matches += _sentiment_matches(rule, turns, analytics, detail)
        elif isinstance(rule, InterruptionRule):
            events = [
                e
                for e in analytics.get("interruptions", {}).get("events", [])
                if rule.party == "any" or e["party"] == rule.party
            ]
            if len(events) > rule.interruptions_over:
                matches.append(
                    TagMatch(
                        rule.tag,
                        events[0]["at"],
                        events[-1]["at"],
                        {**detail, "count": len(events)},
                    )
                )
        else:
            phrases = _for_language(rule.required_phrases, language)
            said = any(
                turn.words[first].start <= rule.within_s
                for turn in turns
                if rule.said_by(turn)
                for _, first, _last in _phrase_spans(turn, phrases, language)
            )
            if not said and phrases:
                matches.append(
                    TagMatch(rule.tag, 0.0, rule.within_s, {**detail, "missing": phrases})
                )
    matches.sort(key=lambda m: (m.start_s or 0.0, m.tag))
    return matches


def _sentiment_matches(
    rule: SentimentRule, turns: list[Turn], analytics: dict[str, Any], detail: dict[str, Any]
) -> list[TagMatch]:
    chosen = [t for t in turns if rule.said_by(t) and t.sentiment is not None]
    if rule.window == "turn":
        return [
            TagMatch(
                rule.tag,
                round(t.start, 2),
                round(t.end, 2),
                {**detail, "sentiment": round(t.sentiment, 3), "party": t.party},
            )
            for t in chosen
            if t.sentiment is not None and t.sentiment < rule.sentiment_below
        ]
    summary = analytics.get("sentiment", {})
    end_from = float(summary.get("end_from_s", 0.0))
    closing = [t for t in chosen if t.end > end_from]
    scores = [
        score
        for party, score in summary.get("end", {}).items()
        if score is not None and (rule.party == "any" or party in (rule.party, "mixed"))
    ]
    if not closing or not scores or min(scores) >= rule.sentiment_below:
        return []
    return [
        TagMatch(
            rule.tag,
            round(closing[0].start, 2),
            round(closing[-1].end, 2),
            {**detail, "sentiment": min(scores)},
        )
    ]
