"""PII redaction of a transcript before it is stored (pure).

Two rules, both marking words in place (the raw words are then dropped):

* a run of consecutive number words holding ``min_digits`` digits or more (card,
  ID, account and phone numbers, read as "4111 1111 ...", "four one one one"
  or "六二二八四八...");
* everything the other party says in the ``window_s`` seconds after someone
  asked for such a detail ("card number", "security code", 卡号, 身份证...), up
  to the asker's next turn; in a one-channel recording, the words after the
  request itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recordings.transcribe.turns import UNSPACED, Turn

EN_DIGITS = {
    "zero": 1, "oh": 1, "o": 1, "one": 1, "two": 1, "three": 1, "four": 1, "five": 1,
    "six": 1, "seven": 1, "eight": 1, "nine": 1, "double": 0, "triple": 0,
}  # fmt: skip
ZH_DIGITS = frozenset("零〇一二三四五六七八九幺两")
_MONEY = re.compile(r"^[$€£¥]?\d{1,3}(,\d{3})*(\.\d{1,2})$")
_STRIP = re.compile(r"[\s,.;:!?'\"()\-/#]+")

REQUEST_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "card number", "credit card", "debit card", "account number", "security code",
        "cvv", "cvc", "expiry date", "expiration date", "date of birth", "social security",
        "pin", "passcode", "password", "id number", "sort code", "routing number",
        "verification code",
    ),
    "zh": (
        "卡号", "银行卡", "信用卡", "账号", "帐号", "账户号码", "身份证", "证件号", "密码",
        "验证码", "安全码", "有效期", "出生日期",
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Redaction:
    party: str
    start: float
    end: float
    kind: str  # "digits" | "after_request"

    def as_json(self) -> dict[str, object]:
        return {
            "party": self.party,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "kind": self.kind,
        }


def digit_count(text: str) -> int | None:
    """Digits a word stands for (None: not a number word)."""
    bare = _STRIP.sub("", text.lower())
    if not bare or _MONEY.match(text.strip(",.;:!? ")):
        return None
    if bare.isdigit():
        return len(bare)
    if bare in EN_DIGITS:
        return EN_DIGITS[bare]
    if all(ch in ZH_DIGITS or ch.isdigit() for ch in bare):
        return len(bare)
    return None


def _digit_runs(turn: Turn, min_digits: int) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start, digits = -1, 0
    for index, word in enumerate([*turn.words, None]):
        count = digit_count(word.text) if word is not None else None
        if count is not None:
            if start < 0:
                start, digits = index, 0
            digits += count
            continue
        if start >= 0 and digits >= min_digits:
            runs.append((start, index))
        start = -1
    return runs


def _requests(turn: Turn, language: str) -> list[float]:
    """End times of requests for personal details in a turn."""
    phrases = REQUEST_PHRASES.get(language, ()) + (
        REQUEST_PHRASES["en"] if language != "en" else ()
    )
    found: list[float] = []
    if language in UNSPACED:
        text, ends = "", []
        for word in turn.words:
            for _ch in word.text:
                ends.append(word.end)
            text += word.text
        for phrase in phrases:
            for match in re.finditer(re.escape(phrase), text):
                found.append(ends[match.end() - 1])
        return found
    tokens = [_STRIP.sub("", w.text.lower()) for w in turn.words]
    for phrase in phrases:
        wanted = phrase.split()
        for index in range(len(tokens) - len(wanted) + 1):
            if tokens[index : index + len(wanted)] == wanted:
                found.append(turn.words[index + len(wanted) - 1].end)
    return found


def redact(
    turns: list[Turn], language: str, min_digits: int = 6, window_s: float = 15.0
) -> list[Redaction]:
    """Mark the PII words of ``turns`` (``Turn.masked``); returns what was masked."""
    redactions: list[Redaction] = []
    for turn in turns:
        for first, last in _digit_runs(turn, min_digits):
            turn.masked.update(range(first, last))
            words = turn.words[first:last]
            redactions.append(Redaction(turn.party, words[0].start, words[-1].end, "digits"))
    for asking in turns:
        for asked_at in _requests(asking, language):
            until = asked_at + window_s
            if asking.party != "mixed":
                later = [
                    t.start for t in turns if t.party == asking.party and t.start > asked_at + 0.5
                ]
                until = min([until, *later])
            for turn in turns:
                if turn.party == asking.party and asking.party != "mixed":
                    continue
                hit = [i for i, w in enumerate(turn.words) if asked_at < w.start < until]
                if hit:
                    turn.masked.update(hit)
                    redactions.append(
                        Redaction(
                            turn.party,
                            turn.words[hit[0]].start,
                            turn.words[hit[-1]].end,
                            "after_request",
                        )
                    )
    redactions.sort(key=lambda r: r.start)
    return redactions
