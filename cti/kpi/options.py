"""The options of the KPIs and the alarm rules, validated from a mapping (YAML).

Errors name the file and the field: ``wallboard.yaml: alarms.0.above: ...``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class KpiConfigError(ValueError):
    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceLevelOptions(_Strict):
    """Answered within ``threshold_s`` / offered; ``target`` is what the page compares with."""

    threshold_s: float = Field(default=15.0, gt=0, le=3600)
    target: float = Field(default=0.8, ge=0, le=1)
    # callers who hang up within short_abandon_s of joining the queue
    short_abandon_s: float = Field(default=5.0, ge=0, le=600)
    exclude_short_abandons: bool = True


class QueueOptions(_Strict):
    threshold_s: float | None = Field(default=None, gt=0, le=3600)
    target: float | None = Field(default=None, ge=0, le=1)


class FcrOptions(_Strict):
    """First-call resolution: ``repeat`` (no new call from the number to the queue
    within ``days``), ``disposition`` (the agent chose a resolved code) or ``both``."""

    days: float = Field(default=3.0, gt=0, le=90)
    mode: Literal["repeat", "disposition", "both"] = "repeat"
    resolved_codes: tuple[str, ...] = ("resolved",)


class ComplaintOptions(_Strict):
    """A complaint is a call the agent gave one of ``codes``; it repeats when the same
    number complains again (any queue) within ``days``."""

    codes: tuple[str, ...] = ("complaint",)
    days: float = Field(default=30.0, gt=0, le=365)


class KpiOptions(_Strict):
    service_level: ServiceLevelOptions = Field(default_factory=ServiceLevelOptions)
    queues: dict[str, QueueOptions] = Field(default_factory=dict)
    fcr: FcrOptions = Field(default_factory=FcrOptions)
    complaints: ComplaintOptions = Field(default_factory=ComplaintOptions)
    csat_good: int = Field(default=4, ge=1, le=5)  # a survey score at least this is "satisfied"
    window_s: int = Field(default=1800, ge=60, le=86400)  # the sliding window ("last 30 min")

    def threshold_ms(self, queue: str) -> int:
        own = self.queues.get(queue)
        seconds = own.threshold_s if own and own.threshold_s else self.service_level.threshold_s
        return round(seconds * 1000)

    def target(self, queue: str) -> float:
        own = self.queues.get(queue)
        if own is not None and own.target is not None:
            return own.target
        return self.service_level.target


AlarmKind = Literal[
    "service_level", "longest_wait", "waiting_calls", "abandon_rate", "agents_ready", "qa_red_flags"
]
#: kinds raised when the value falls below the threshold (others: above)
BELOW_KINDS = frozenset({"service_level", "agents_ready"})
#: the ``queue`` of a ``qa_red_flags`` rule that counts every call together
ALL_CALLS = "all"
#: a tag name as the tag rules write it (recordings/transcribe/tags.py)
TAG_NAME = r"^[a-z0-9_][a-z0-9_.-]{0,63}$"


class AlarmRule(_Strict):
    """One alarm: raised when the value passes ``threshold`` for ``for_s`` seconds,
    cleared when it is back past ``clear`` (hysteresis) for ``clear_for_s``."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: AlarmKind
    # "*": each queue; qa_red_flags also "all": every call together (queued or not)
    queue: str = Field(default="*", min_length=1, max_length=64)
    period: Literal["window", "today"] = "window"  # service_level, abandon_rate, qa_red_flags
    threshold: float
    clear: float | None = None  # default: the threshold itself (no hysteresis)
    for_s: float = Field(default=0.0, ge=0, le=3600)
    clear_for_s: float = Field(default=0.0, ge=0, le=3600)
    min_calls: int = Field(default=1, ge=0)  # rates need this many offered calls to be judged
    severity: Literal["warning", "critical"] = "warning"
    # qa_red_flags: the tags that count (default: those the tag rules mark red flags)
    tags: tuple[Annotated[str, Field(pattern=TAG_NAME)], ...] = ()
    # qa_red_flags with period "window": how far back (default: the KPI window, window_s)
    window_s: int | None = Field(default=None, ge=60, le=86400)

    @property
    def below(self) -> bool:
        return self.kind in BELOW_KINDS

    @property
    def clear_at(self) -> float:
        return self.threshold if self.clear is None else self.clear

    @model_validator(mode="after")
    def _check(self) -> AlarmRule:
        if self.kind in ("service_level", "abandon_rate") and not 0 <= self.threshold <= 1:
            raise ValueError(f"{self.kind} threshold is a share between 0 and 1")
        if self.clear is not None:
            if self.below and self.clear < self.threshold:
                raise ValueError("clear must be at or above the threshold (raised below it)")
            if not self.below and self.clear > self.threshold:
                raise ValueError("clear must be at or below the threshold (raised above it)")
        if self.threshold < 0:
            raise ValueError("threshold must not be negative")
        if self.kind != "qa_red_flags":
            if self.tags or self.window_s is not None:
                raise ValueError("tags and window_s are only for qa_red_flags rules")
        elif self.window_s is not None and self.period != "window":
            raise ValueError("window_s is for period: window (today counts from midnight)")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError("a tag is named twice in tags")
        return self


class WallboardConfig(_Strict):
    timezone: str = "UTC"  # days and intervals start at midnight here
    kpi: KpiOptions = Field(default_factory=KpiOptions)
    alarms: tuple[AlarmRule, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique(self) -> WallboardConfig:
        names = [rule.name for rule in self.alarms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alarm names must be unique: {', '.join(dupes)}")
        return self


def parse_config(data: Any, source: str) -> WallboardConfig:
    """Validate the parsed YAML; raises ``KpiConfigError`` naming the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KpiConfigError(source, "the file must be a mapping")
    try:
        return WallboardConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise KpiConfigError(source, f"{where}: {first['msg']}") from exc
