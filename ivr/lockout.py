"""PIN lockout across calls: the rule, pure (no I/O), and what a store offers.

A wrong PIN counts against the account tried and against the caller's number;
``max_failures`` wrong PINs within ``lockout_s`` lock that account (or
number) for ``lockout_s``: no PIN is checked for it meanwhile, whatever is
typed. Counts live in a store (the CTI's database) so that neither a new call
nor a restart resets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["LockoutPolicy", "PinAttempts", "Strikes", "pin_keys"]

#: Longest caller number kept in a key (Asterisk passes up to 79 bytes).
_MAX_NUMBER = 64


@dataclass(frozen=True, slots=True)
class Strikes:
    """Wrong PINs counted for one key; times in epoch seconds."""

    failures: int = 0
    locked_until: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    lockout_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.lockout_s <= 0:
            raise ValueError("pin_max_failures must be >= 1 and pin_lockout_s > 0")

    def locked(self, strikes: Strikes, now: float) -> bool:
        return strikes.locked_until > now

    def after_failure(self, strikes: Strikes, now: float) -> Strikes:
        """The count after one more wrong PIN (old failures and ended locks forgotten)."""
        stale = now - strikes.updated_at > self.lockout_s or 0 < strikes.locked_until <= now
        failures = (0 if stale else strikes.failures) + 1
        locked_until = strikes.locked_until if strikes.locked_until > now else 0.0
        if failures >= self.max_failures:
            locked_until = max(locked_until, now + self.lockout_s)
        return Strikes(failures, locked_until, now)


def pin_keys(account: str, caller_number: str) -> tuple[str, ...]:
    """The keys one PIN attempt counts against (account, and the caller's number)."""
    keys = [f"account:{account}"] if account else []
    number = "".join(c for c in caller_number if c.isascii() and (c.isalnum() or c == "+"))
    keys.append(f"caller:{number[:_MAX_NUMBER] or 'anonymous'}")
    return tuple(keys)


class PinAttempts(Protocol):
    """Where the counts live (cti.db.pin_attempts.PinAttemptStore)."""

    async def locked(self, keys: Sequence[str]) -> bool: ...

    async def failed(self, keys: Sequence[str]) -> list[str]:
        """Count a wrong PIN against ``keys``; returns the keys it locked."""
        ...

    async def succeeded(self, keys: Sequence[str]) -> None: ...
