"""The survey's 0-10 answer read from DTMF: pure, hostile input refused.

The caller keys the number then '#', or just waits: GET DATA ends at two
digits, at '#', or after the pause. "10" is the only two-digit answer; "01",
"11", "*", "#" alone, nothing, or anything but digits is no answer.
"""

from __future__ import annotations

import re

MAX_DIGITS = 2  # "10"
_ANSWER = re.compile(r"^(10|[0-9])#?$")


def parse_nps(keys: str) -> int | None:
    """0-10 from the keys the caller pressed (a trailing '#' allowed); None otherwise."""
    match = _ANSWER.match(keys)
    return int(match.group(1)) if match else None
