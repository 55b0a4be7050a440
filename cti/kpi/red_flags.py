"""QA red flags for the ``qa_red_flags`` alarm rules (pure).

The transcription side tags calls from their recordings (tag rules); the CTI
reads each tag once it is stored and hands it here as a ``TagSeen``. A rule
counts the distinct calls that got one of its ``tags`` (by default the tags
the tag rules mark as red flags) since its start: its window back from now,
or midnight for ``period: today``; per queue, or every call together with
``queue: all``. A call transcribed again and tagged again counts once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Set
from dataclasses import dataclass

from cti.kpi.options import ALL_CALLS, AlarmRule, KpiConfigError, WallboardConfig

KIND = "qa_red_flags"
#: tags kept at most (the oldest go first): memory stays bounded whatever the rate
MAX_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class TagSeen:
    """A tag the tag rules put on a call, as stored."""

    call_id: str
    tag: str
    queue: str | None  # the call's queue (None: it never reached one)
    at: float  # when it was stored (epoch seconds)
    red_flag: bool  # the tag rules mark it a red flag


def counts(rule: AlarmRule, seen: TagSeen) -> bool:
    """Whether the tag is one of the rule's red flags."""
    return seen.tag in rule.tags if rule.tags else seen.red_flag


def rule_since(rule: AlarmRule, now: float, day_start: float, window_s: int) -> float:
    """Where the rule starts counting: midnight (``today``) or its window back."""
    if rule.period == "today":
        return day_start
    return now - (rule.window_s if rule.window_s is not None else window_s)


class RedFlagLog:
    """The red-flag tags the rules may still count, and their counts."""

    def __init__(self, rules: Iterable[AlarmRule]) -> None:
        self.rules = tuple(r for r in rules if r.kind == KIND)
        self.kept: deque[TagSeen] = deque(maxlen=MAX_KEPT)

    def record(self, seen: Iterable[TagSeen]) -> bool:
        """Keep the tags some rule counts; True when there was one."""
        added = False
        for tag in seen:
            if any(counts(rule, tag) for rule in self.rules):
                self.kept.append(tag)
                added = True
        return added

    def forget_before(self, at: float) -> None:
        """Drop the tags no rule looks back to any more."""
        if any(tag.at < at for tag in self.kept):
            self.kept = deque((t for t in self.kept if t.at >= at), maxlen=MAX_KEPT)

    def calls(self, rule: AlarmRule, since: float) -> dict[str | None, set[str]]:
        """The rule's red-flagged calls since ``since``, by queue."""
        found: dict[str | None, set[str]] = {}
        for tag in self.kept:
            if tag.at >= since and counts(rule, tag):
                found.setdefault(tag.queue, set()).add(tag.call_id)
        return found


def count(calls: dict[str | None, set[str]], queue: str) -> float:
    """A rule's value for ``queue`` from its calls by queue (``all``: every call)."""
    if queue == ALL_CALLS:
        return float(len(set().union(*calls.values())))
    return float(len(calls.get(queue, ())))


def named_tags(config: WallboardConfig) -> set[str]:
    """The tags the ``qa_red_flags`` rules name (checked against the tag rules)."""
    return {tag for rule in config.alarms if rule.kind == KIND for tag in rule.tags}


def check_tags(config: WallboardConfig, known: Set[str], source: str) -> None:
    """Every tag a ``qa_red_flags`` rule names is one a tag rule makes (a rule
    without ``tags`` counts the tags the workers stored as red flags).

    Raises ``KpiConfigError`` naming the file and the field.
    """
    for index, rule in enumerate(config.alarms):
        unknown = [tag for tag in rule.tags if tag not in known]
        if unknown:
            raise KpiConfigError(
                source,
                f"alarms.{index}.tags: no tag rule makes {', '.join(unknown)} "
                f"(the tag rules make: {', '.join(sorted(known)) or 'none'})",
            )
