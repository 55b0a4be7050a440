"""Routing domain: skills, requirement expressions, call attributes, priority, routes.

Pure: no I/O, no clock. Times are seconds (float) passed in by the caller.

Skills are levels per skill name (``{"lang.zh": 5, "billing": 3}``; 0 or absent
means the agent lacks the skill). A requirement is a small boolean expression
over skills::

    lang.{language} >= 3 & ({product} >= 3 | generalist >= 4)

``&`` binds tighter than ``|``; a bare skill name means ``>= 1``;
``{language}``, ``{product}`` and ``{tier}`` are replaced by the call's
attributes. Requirements are compiled to disjunctive normal form (:class:`Dnf`),
which the router indexes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MIN_LEVEL = 1
MAX_LEVEL = 10
PLACEHOLDERS = frozenset({"language", "product", "tier"})
MATCH_ATTRIBUTES = frozenset({"language", "product", "tier", "urgency", "callback"})
URGENCIES = (1, 2, 3)  # 1 = most urgent (stolen account, failed payment)

_VALUE = re.compile(r"[A-Za-z0-9_-]+\Z")

SkillLevels = Mapping[str, int]
Conjunct = tuple[tuple[str, int], ...]  # (skill, minimum level), sorted by skill


class RequirementError(ValueError):
    """A requirement expression that does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.message = message
        self.column = column


class NoRouteError(LookupError):
    """No route matches the call's attributes."""


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class SkillAtLeast:
    skill: str  # may hold placeholders, e.g. "lang.{language}"
    level: int


@dataclass(frozen=True, slots=True)
class AllOf:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Expr, ...]


Expr = SkillAtLeast | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class Dnf:
    """A requirement in disjunctive normal form: any conjunct, all of its atoms."""

    conjuncts: tuple[Conjunct, ...]

    def matches(self, skills: SkillLevels) -> bool:
        for conjunct in self.conjuncts:
            for skill, level in conjunct:
                if skills.get(skill, 0) < level:
                    break
            else:
                return True
        return False

    def union(self, other: Dnf) -> Dnf:
        return _canonical(self.conjuncts + other.conjuncts)

    def __str__(self) -> str:
        return " | ".join(
            " & ".join(f"{skill} >= {level}" for skill, level in conjunct)
            for conjunct in self.conjuncts
        )


def _canonical(conjuncts: tuple[Conjunct, ...]) -> Dnf:
    """Sort, deduplicate, and drop conjuncts implied by a weaker one."""
    unique = sorted(set(conjuncts), key=lambda c: (len(c), c))
    kept: list[Conjunct] = []
    for conjunct in unique:
        needs = dict(conjunct)
        # a conjunct is redundant if a kept (weaker or equal) one is implied by it
        if any(all(needs.get(s, 0) >= lvl for s, lvl in other) for other in kept):
            continue
        kept.append(conjunct)
    return Dnf(tuple(sorted(kept)))


def _to_dnf(expr: Expr) -> tuple[Conjunct, ...]:
    match expr:
        case SkillAtLeast(skill=skill, level=level):
            return (((skill, level),),)
        case AnyOf(terms=terms):
            return tuple(c for term in terms for c in _to_dnf(term))
        case AllOf(terms=terms):
            product: list[dict[str, int]] = [{}]
            for term in terms:
                product = [_merge(left, right) for left in product for right in _to_dnf(term)]
            return tuple(tuple(sorted(p.items())) for p in product)
    raise AssertionError(expr)  # pragma: no cover


def _merge(left: dict[str, int], right: Conjunct) -> dict[str, int]:
    merged = dict(left)
    for skill, level in right:
        merged[skill] = max(level, merged.get(skill, 0))
    return merged


_TOKEN = re.compile(
    r"\s*(?:(?P<op>>=|[()&|])"
    r"|(?P<int>\d+)"
    r"|(?P<name>(?:[A-Za-z_]|\{[A-Za-z_]+\})(?:[A-Za-z0-9_.\-]|\{[A-Za-z_]+\})*)"
    r"|(?P<bad>\S))"
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
MAX_CONJUNCTS = 64


@dataclass(frozen=True, slots=True)
class Requirement:
    """A parsed requirement expression; :meth:`resolve` fills in a call's attributes."""

    text: str
    expr: Expr
    placeholders: frozenset[str]
    _dnf: Dnf = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Requirement:
        tokens = _tokenize(text)
        parser = _Parser(text, tokens)
        expr = parser.expression()
        if parser.pos < len(tokens):
            kind, value, column = tokens[parser.pos]
            raise RequirementError(f"unexpected {value!r}", column)
        names = frozenset(
            m.group(1) for atom in _atoms(expr) for m in _PLACEHOLDER.finditer(atom.skill)
        )
        unknown = sorted(names - PLACEHOLDERS)
        if unknown:
            raise RequirementError(
                f"unknown attribute {{{unknown[0]}}} (use {', '.join(sorted(PLACEHOLDERS))})",
                text.find("{" + unknown[0] + "}") + 1,
            )
        dnf = _canonical(_to_dnf(expr))
        if len(dnf.conjuncts) > MAX_CONJUNCTS:
            raise RequirementError(f"too complex: more than {MAX_CONJUNCTS} alternatives", 1)
        return cls(text, expr, names, dnf)

    def resolve(self, attrs: CallAttributes) -> Dnf:
        if not self.placeholders:
            return self._dnf
        values = {name: attrs.value(name) for name in self.placeholders}
        return _canonical(
            tuple(
                tuple(sorted(_merge({}, tuple((_fill(s, values), lvl) for s, lvl in c)).items()))
                for c in self._dnf.conjuncts
            )
        )

    def __str__(self) -> str:
        return self.text


def _fill(skill: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], skill)


def _atoms(expr: Expr) -> list[SkillAtLeast]:
    if isinstance(expr, SkillAtLeast):
        return [expr]
    return [atom for term in expr.terms for atom in _atoms(term)]


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:  # only trailing blanks are left
            break
        kind = m.lastgroup
        value = m.group(kind)
        column = m.start(kind) + 1
        if kind == "bad":
            raise RequirementError(f"unexpected character {value!r}", column)
        tokens.append((kind, value, column))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str, int]]) -> None:
        self.text, self.tokens, self.pos = text, tokens, 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _end_column(self) -> int:
        return len(self.text.rstrip()) + 1

    def expression(self) -> Expr:
        terms = [self.conjunction()]
        while (tok := self._peek()) is not None and tok[1] == "|":
            self.pos += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def conjunction(self) -> Expr:
        terms = [self.factor()]
        while (tok := self._peek()) is not None and tok[1] == "&":
            self.pos += 1
            terms.append(self.factor())
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def factor(self) -> Expr:
        tok = self._peek()
        if tok is None:
            raise RequirementError("expected a skill name or '('", self._end_column())
        kind, value, column = tok
        if value == "(":
            self.pos += 1
            inner = self.expression()
            close = self._peek()
            if close is None or close[1] != ")":
                where = self._end_column() if close is None else close[2]
                raise RequirementError("expected ')'", where)
            self.pos += 1
            return inner
        if kind != "name":
            raise RequirementError(f"expected a skill name, got {value!r}", column)
        self.pos += 1
        level = MIN_LEVEL
        op = self._peek()
        if op is not None and op[1] == ">=":
            self.pos += 1
            num = self._peek()
            if num is None or num[0] != "int":
                where = self._end_column() if num is None else num[2]
                raise RequirementError("expected a level after '>='", where)
            self.pos += 1
            level = int(num[1])
            if not MIN_LEVEL <= level <= MAX_LEVEL:
                raise RequirementError(
                    f"level {level} out of range {MIN_LEVEL}..{MAX_LEVEL}", num[2]
                )
        return SkillAtLeast(value, level)


# ---------------------------------------------------------------- calls
@dataclass(frozen=True, slots=True)
class CallAttributes:
    """What the IVR (or CRM) knows about a call, used to route it."""

    language: str
    product: str
    tier: str = "standard"
    urgency: int = 3  # 1 = most urgent
    callback: bool = False  # a scheduled call-back rather than a caller on the line

    def __post_init__(self) -> None:
        for name in ("language", "product", "tier"):
            value = getattr(self, name)
            if not _VALUE.match(value):
                raise ValueError(f"call attribute {name}={value!r}: use letters, digits, _ or -")
        if self.urgency not in URGENCIES:
            raise ValueError(f"call attribute urgency={self.urgency!r}: must be 1, 2 or 3")

    def value(self, name: str) -> str:
        """The attribute as a string, for route matching and placeholders."""
        if name == "urgency":
            return str(self.urgency)
        if name == "callback":
            return "true" if self.callback else "false"
        if name in ("language", "product", "tier"):
            return str(getattr(self, name))
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """priority = tier weight + urgency weight + callback weight + route priority
    + ``per_second_waited`` x seconds waited
    - ``missed_service_level`` once the call has waited its route's service-level
    threshold (``service_level.within_s``). Higher is served first.

    The waiting term has the same slope for every call, so the order of two
    waiting calls changes only when one of them reaches its threshold:
    :meth:`sort_key` is the order before that; the router lowers a call's key
    once, by a timer, when it gets there.
    """

    per_second_waited: float = 1.0
    tier: Mapping[str, float] = field(default_factory=lambda: {"standard": 0.0, "vip": 60.0})
    urgency: Mapping[int, float] = field(default_factory=lambda: {1: 10_000.0, 2: 60.0, 3: 0.0})
    callback: float = 0.0
    # an agent choosing among waiting calls discounts a call by this much for each
    # relaxation tier it would serve it at (0 = a perfect fit): fit before age
    relaxed_tier: float = 0.0
    # service-level-aware ordering: a call still waiting at its route's threshold
    # (service_level.within_s) can no longer count as answered in time, so it drops
    # behind calls that still can by this much, once (0 = off). Kept below the
    # urgency 1 weight, urgent calls stay ahead of every other call.
    missed_service_level: float = 0.0

    def static(self, attrs: CallAttributes) -> float:
        value = self.tier.get(attrs.tier, 0.0) + self.urgency.get(attrs.urgency, 0.0)
        return value + (self.callback if attrs.callback else 0.0)

    def priority(
        self,
        attrs: CallAttributes,
        queued_at: float,
        now: float,
        route_priority: float = 0.0,
        within_s: float = math.inf,
    ) -> float:
        """The priority at ``now``; ``within_s`` is the route's service-level threshold."""
        waited = max(0.0, now - queued_at)
        value = self.static(attrs) + route_priority + self.per_second_waited * waited
        return value - (self.missed_service_level if waited >= within_s else 0.0)

    def sort_key(self, attrs: CallAttributes, queued_at: float, route_priority: float) -> float:
        """priority(now) - per_second_waited x now: constant while the call waits."""
        return self.static(attrs) + route_priority - self.per_second_waited * queued_at


# ---------------------------------------------------------------- routes
class Fairness(StrEnum):
    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPANCY = "least_occupancy"


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    target: float = 0.8  # share of calls ...
    within_s: float = 20.0  # ... answered within this many seconds


@dataclass(frozen=True, slots=True)
class Step:
    """From ``after_s`` seconds in the route on, agents meeting ``requires`` are accepted too."""

    after_s: float
    requires: Requirement


@dataclass(frozen=True, slots=True)
class Overflow:
    after_s: float
    to: str


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    steps: tuple[Step, ...]
    match: Mapping[str, frozenset[str]] = field(default_factory=dict)
    overflow: Overflow | None = None
    ring_timeout_s: float = 15.0
    priority: float = 0.0
    service_level: ServiceLevel = field(default_factory=ServiceLevel)

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].after_s != 0:
            raise ValueError(f"route {self.name}: the first step must start at 0 s")
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after.after_s <= before.after_s:
                raise ValueError(f"route {self.name}: step times must increase")
        if self.overflow is not None and self.overflow.after_s <= self.steps[-1].after_s:
            raise ValueError(f"route {self.name}: overflow must come after the last step")
        if self.ring_timeout_s <= 0:
            raise ValueError(f"route {self.name}: ring_timeout_s must be positive")
        unknown = set(self.match) - MATCH_ATTRIBUTES
        if unknown:
            raise ValueError(f"route {self.name}: cannot match on {sorted(unknown)}")

    def matches(self, attrs: CallAttributes) -> bool:
        return all(attrs.value(name) in allowed for name, allowed in self.match.items())


@dataclass(frozen=True, slots=True)
class RoutingPlan:
    """Everything the router needs: routes in match order, priority, fairness."""

    routes: tuple[Route, ...]
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)
    fairness: Fairness = Fairness.LONGEST_IDLE
    rona_reason: str = "rona"
    _by_name: dict[str, Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Route] = {}
        for route in self.routes:
            if route.name in by_name:
                raise ValueError(f"route {route.name}: defined twice")
            by_name[route.name] = route
        for route in self.routes:
            seen = {route.name}
            hop = route.overflow
            while hop is not None:
                if hop.to not in by_name:
                    raise ValueError(f"route {route.name}: overflow to unknown route {hop.to}")
                if hop.to in seen:
                    raise ValueError(f"route {route.name}: overflow loops back to {hop.to}")
                seen.add(hop.to)
                hop = by_name[hop.to].overflow
        object.__setattr__(self, "_by_name", by_name)

    def route(self, name: str) -> Route:
        return self._by_name[name]

    def has_route(self, name: str) -> bool:
        return name in self._by_name

    def route_for(self, attrs: CallAttributes) -> Route:
        for route in self.routes:
            if route.matches(attrs):
                return route
        raise NoRouteError(f"no route matches {attrs}")
