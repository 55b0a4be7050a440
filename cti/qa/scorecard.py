"""The QA scorecard: a validated file of weighted criteria, and scoring a call by it.

Errors name the file, the criterion (when there is one) and the problem::

    scorecard.yaml: criterion 'greeting': weight: must be greater than 0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cti.routing.config import RoutesConfigError, load_yaml

DEFAULT_SCORECARD = Path(__file__).with_name("scorecard.yaml")
ANSWERS = ("pass", "fail", "na")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class ScorecardError(ValueError):
    """The scorecard file is wrong."""


class ScoreRejected(ValueError):
    """A reviewer's answers do not fit the scorecard."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(_Strict):
    en: str = Field(min_length=1, max_length=200)
    zh: str = Field(min_length=1, max_length=200)


def _check_id(value: str) -> str:
    if not value or len(value) > 64 or not set(value) <= _ID_CHARS:
        raise ValueError("ids are 1-64 of a-z, 0-9 and _")
    return value


class Criterion(_Strict):
    id: str
    title: Title
    weight: float = Field(gt=0, le=1000)
    critical: bool = False

    _id = field_validator("id")(_check_id)


class Section(_Strict):
    id: str
    title: Title
    criteria: list[Criterion] = Field(min_length=1)

    _id = field_validator("id")(_check_id)


class Scorecard(_Strict):
    name: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    sections: list[Section] = Field(min_length=1)

    @property
    def criteria(self) -> dict[str, Criterion]:
        return {c.id: c for s in self.sections for c in s.criteria}


Answer = Literal["pass", "fail", "na"]


@dataclass(frozen=True, slots=True)
class Score:
    total: float  # 0-100
    critical_failed: bool
    answers: dict[str, str]


def load_scorecard(path: Path = DEFAULT_SCORECARD) -> Scorecard:
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorecardError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = load_yaml(text, source)
    except RoutesConfigError as exc:
        raise ScorecardError(str(exc)) from exc
    return parse_scorecard(data, source)


def parse_scorecard(data: Any, source: str) -> Scorecard:
    try:
        card = Scorecard.model_validate(data)
    except ValidationError as exc:
        raise ScorecardError(_describe(exc, data, source)) from exc
    seen: set[str] = set()
    for section in card.sections:
        for criterion in section.criteria:
            if criterion.id in seen:
                raise ScorecardError(f"{source}: criterion {criterion.id!r}: duplicate id")
            seen.add(criterion.id)
    return card


def _describe(exc: ValidationError, data: Any, source: str) -> str:
    """The first problem, named by criterion (or section) id where there is one."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ""
    node: Any = data
    rest: list[str] = []
    for i, part in enumerate(loc):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            rest += [str(p) for p in loc[i:]]
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            kind = "criterion" if "criteria" in [str(p) for p in loc[:i]] else "section"
            where, rest = f"{kind} {node['id']!r}: ", []
        else:
            rest.append(str(part))
    field = ".".join(rest) or "value"
    return f"{source}: {where}{field}: {err['msg']}"


def score_call(card: Scorecard, answers: Any) -> Score:
    """Score answers ``{criterion id: "pass" | "fail" | "na"}``: every criterion, nothing else."""
    if not isinstance(answers, dict):
        raise ScoreRejected("answers must be an object {criterion: pass|fail|na}")
    criteria = card.criteria
    unknown = sorted(str(k) for k in answers if k not in criteria)
    if unknown:
        raise ScoreRejected(f"unknown criteria: {', '.join(unknown)}")
    missing = [c for c in criteria if c not in answers]
    if missing:
        raise ScoreRejected(f"no answer for: {', '.join(missing)}")
    bad = sorted(k for k, v in answers.items() if v not in ANSWERS)
    if bad:
        raise ScoreRejected(f"answers must be pass, fail or na: {', '.join(bad)}")
    critical_failed = any(criteria[k].critical and v == "fail" for k, v in answers.items())
    applicable = sum(criteria[k].weight for k, v in answers.items() if v != "na")
    passed = sum(criteria[k].weight for k, v in answers.items() if v == "pass")
    total = 0.0 if critical_failed or applicable == 0 else round(100.0 * passed / applicable, 1)
    return Score(total, critical_failed, {k: str(v) for k, v in answers.items()})
