"""Channel variables and caller-ID fields of AMI channel snapshots.

Every event with a channel snapshot, CoreShowChannel included, carries
``ChanVariable: NAME=value`` headers for the variables listed in manager.conf;
panoramisk gives one header as a string and several as a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["channel_variables", "clean_callerid"]


def channel_variables(event: Mapping[str, Any], header: str = "ChanVariable") -> dict[str, str]:
    """``{"HOTLINE_QUEUE": "billing", ...}`` from an event's ``ChanVariable`` headers."""
    raw = event.get(header)
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    found: dict[str, str] = {}
    for item in items:
        if isinstance(item, str) and "=" in item:
            name, value = item.split("=", 1)
            found[name.strip()] = value
    return found


def clean_callerid(value: str) -> str:
    """Asterisk's ``<unknown>`` (no number or name) as an empty string."""
    return "" if value in ("<unknown>", "") else value
