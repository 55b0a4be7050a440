"""Which numbers a call-back may dial: the site's policy, pure.

A call-back dials the caller ID the caller presented, which the caller
controls: without a policy it is toll fraud (premium or satellite numbers)
and harassment (dial anyone, again and again). A number is dialled only when
it is ASCII digits (``+`` allowed in front, E.164), of a sane length, starts
with one of the site's allowed prefixes, is not anonymous, and neither the
number (``max_per_number``) nor the site (``max_total``) has too many
call-backs pending. The policy is checked when the call-back is offered, when
it is asked for, when it is restored after a restart and right before each
dial.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CallbackPolicy", "normalise"]

_DIGITS = frozenset("0123456789")
#: Caller IDs that stand for "no number" (withheld, unknown).
_ANONYMOUS = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})


def normalise(number: str) -> str | None:
    """``+8613800138000`` -> ``8613800138000``; None unless ASCII digits (and a leading +).

    ``str.isdigit`` accepts other scripts' digits (``"١٢٣".isdigit()``): a
    set of ASCII digits is used instead.
    """
    digits = number.strip().removeprefix("+")
    if not digits or not set(digits) <= _DIGITS:
        return None
    return digits


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """``allowed_prefixes`` are digit strings (a leading ``+`` is ignored);
    empty: no number is allowed (call-backs are never offered)."""

    allowed_prefixes: tuple[str, ...] = ()
    min_digits: int = 6
    max_digits: int = 15  # E.164
    max_per_number: int = 1
    max_total: int = 50

    def __post_init__(self) -> None:
        for prefix in self.allowed_prefixes:
            if normalise(prefix) is None:
                raise ValueError(f"call-back prefix {prefix!r} is not digits")
        if not 1 <= self.min_digits <= self.max_digits <= 20:
            raise ValueError("call-back number length: need 1 <= min <= max <= 20")
        if self.max_per_number < 1 or self.max_total < 1:
            raise ValueError("call-back caps must be at least 1")

    @property
    def enabled(self) -> bool:
        return bool(self.allowed_prefixes)

    def number_refusal(self, number: str) -> str | None:
        """Why ``number`` may never be dialled; None when it may."""
        if number.strip().lower() in _ANONYMOUS:
            return "anonymous"
        digits = normalise(number)
        if digits is None:
            return "not_digits"
        if not self.min_digits <= len(digits) <= self.max_digits:
            return "length"
        prefixes = (p.removeprefix("+") for p in self.allowed_prefixes)
        if not any(digits.startswith(p) for p in prefixes):
            return "prefix"
        return None

    def refusal(self, number: str, pending: Iterable[str]) -> str | None:
        """Why a new call-back to ``number`` is refused, given the numbers of
        the call-backs already pending; None when it is accepted."""
        reason = self.number_refusal(number)
        if reason is not None:
            return reason
        digits = normalise(number)
        numbers = [normalise(p) for p in pending]
        if len(numbers) >= self.max_total:
            return "total_cap"
        if sum(1 for n in numbers if n == digits) >= self.max_per_number:
            return "number_cap"
        return None
