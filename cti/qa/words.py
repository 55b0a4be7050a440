"""The words of a transcript for full-text search, and the terms of a search (pure).

Both sides cut text the same way, so whatever the index holds a query can
name: letters and digits in runs (lower-cased, NFKC: full-width forms become
plain ones), and each Chinese (and Japanese kana) character a word of its own.
A Chinese word is searched as the phrase of its characters, so ``退款``
finds "我要退款" (the characters next to each other) whatever a dictionary
would have cut, and one- and two-character words work like longer ones.

The index text is the words joined by spaces: SQLite's FTS5 ``unicode61``
tokenizer and PostgreSQL's ``simple`` configuration cut it back into the
same words. A query is a list of terms (all must match); a term is a phrase
(one or more words, next to each other in this order): a run of letters, a
Chinese run, or the words between double quotes. Every other character
(FTS syntax like ``*``, ``-``, ``NEAR(...)``, ``:``, ``^``) is no more than
a space between words, and the words themselves reach the database only as
quoted phrases or bound parameters.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest query text, and most terms in one query (HTTP 400 above).
MAX_QUERY_CHARS = 200
MAX_TERMS = 16

_CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B-G
)
#: One CJK character, or a run of other letters and digits.
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_QUOTED = re.compile(r'"([^"]*)"?')


class BadQuery(ValueError):
    """A search text that cannot be searched (no words, too long, too many terms)."""


def words(text: str) -> list[str]:
    """The searchable words of ``text``, in order."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def index_text(text: str) -> str:
    """What the full-text index holds for a transcript's (redacted) text."""
    return " ".join(words(text))


def _runs(text: str) -> list[list[str]]:
    """Unquoted text: each run of letters (CJK characters next to each other are one run)."""
    terms: list[list[str]] = []
    for chunk in re.split(r"[^\w]|_", unicodedata.normalize("NFKC", text)):
        found = words(chunk)
        if found:
            terms.append(found)
    return terms


def query_terms(text: str) -> list[list[str]]:
    """The phrases a search text asks for; ``BadQuery`` when there is nothing to search.

    ``cancel 退款`` is two terms, ``"cancel my contract"`` one phrase of
    three words, ``abc退款`` one phrase (``abc 退 款``).
    """
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"at most {MAX_QUERY_CHARS} characters")
    terms: list[list[str]] = []
    position = 0
    for match in _QUOTED.finditer(text):
        terms += _runs(text[position : match.start()])
        phrase = words(match.group(1))
        if phrase:
            terms.append(phrase)
        position = match.end()
    terms += _runs(text[position:])
    unique = list(dict.fromkeys(tuple(t) for t in terms))
    if not unique:
        raise BadQuery("no letters or digits to search for")
    if len(unique) > MAX_TERMS:
        raise BadQuery(f"at most {MAX_TERMS} words or phrases")
    return [list(t) for t in unique]


def fts5_match(terms: list[list[str]]) -> str:
    """An FTS5 MATCH expression: every term as a quoted phrase, all required.

    The words hold only letters and digits (``words``), so nothing in them is
    FTS syntax; quotes are doubled all the same.
    """
    phrases = ['"' + " ".join(t).replace('"', '""') + '"' for t in terms]
    return "{body} : (" + " AND ".join(phrases) + ")"
