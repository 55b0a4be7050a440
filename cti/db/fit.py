"""Values fitted to their columns before storage: no control characters, no overflow.

Caller number and name come from the caller (Asterisk passes up to 79 bytes of
number); a NUL or an over-long value is refused by PostgreSQL and would
poison the batch it is in. Strings are cut to their column's length and lose
their control characters (text columns keep line breaks and tabs).
"""

from __future__ import annotations

import re

from sqlalchemy import String, Text

from cti.db.models import Base

__all__ = ["clean_text", "fit_row"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str, length: int | None = None, *, keep_lines: bool = False) -> str:
    cleaned = (_CONTROL_KEEP_LINES if keep_lines else _CONTROL).sub("", value)
    return cleaned[:length] if length else cleaned


def fit_row(row: Base) -> None:
    """Fit every string attribute of ``row`` to its column (in place)."""
    for column in row.__table__.columns:
        value = getattr(row, column.key, None)
        if not isinstance(value, str):
            continue
        if isinstance(column.type, Text):
            fitted = clean_text(value, keep_lines=True)
        elif isinstance(column.type, String):
            fitted = clean_text(value, column.type.length)
        else:
            continue
        if fitted != value:
            setattr(row, column.key, fitted)
