"""JSON from clients, parsed within limits of size and nesting depth.

``json.loads`` recurses once per level: a body of 100,000 ``[`` raises
``RecursionError`` (a 500, or a crashed WebSocket handler). The depth is
counted on the raw text first, outside strings, so the parser never sees a
document deeper than allowed.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_DEPTH = 16


class JsonRefused(ValueError):
    """Not JSON, too large or too deeply nested; ``code`` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads_limited(
    text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = None
) -> Any:
    """Parse ``text``; raise :class:`JsonRefused` with a clear message instead of failing."""
    if max_bytes is not None and len(text) > max_bytes:
        raise JsonRefused("too_large", f"JSON larger than {max_bytes} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused("bad_json", "JSON must be UTF-8") from exc
    if nesting_depth(text) > max_depth:
        raise JsonRefused("too_deep", f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise JsonRefused("bad_json", "not valid JSON") from exc
