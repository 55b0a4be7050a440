"""A simulated contact-centre day: the scenario file (format in docs/routing.md) and
the calls drawn from it once per seed (:func:`generate_calls`)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cti.routing.config import RoutesConfigError, load_routes, load_yaml, parse_routes
from cti.routing.model import CallAttributes, RoutingPlan

# ====================================================================== scenario


class ScenarioError(ValueError):
    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


@dataclass(frozen=True, slots=True)
class Dist:
    """A distribution of seconds: fixed, exponential, lognormal, uniform, or never (inf)."""

    kind: str
    a: float = 0.0
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "lognormal":
            sigma2 = math.log(1.0 + (self.b / self.a) ** 2)
            return rng.lognormvariate(math.log(self.a) - sigma2 / 2, math.sqrt(sigma2))
        return math.inf  # never

    @property
    def mean(self) -> float:
        if self.kind in ("fixed", "exponential", "lognormal"):
            return self.a
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return math.inf


@dataclass(frozen=True, slots=True)
class AgentGroup:
    team: str
    count: int
    skills: Mapping[str, int]
    shift_start: float
    shift_end: float


@dataclass(frozen=True, slots=True)
class CallType:
    name: str
    language: str
    product: str
    tiers: tuple[tuple[str, float], ...]  # cumulative draw table, shares sum to 1
    urgencies: tuple[tuple[int, float], ...]
    callback_share: float
    handle: Dist
    patience: Dist
    volume: tuple[float, ...]  # expected calls per interval


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    plan: RoutingPlan
    start_s: float
    end_s: float
    interval_s: float
    agents: tuple[AgentGroup, ...]
    call_types: tuple[CallType, ...]
    answer_delay: Dist = Dist("fixed", 0.0)
    rona_probability: float = 0.0
    rona_pause_s: float = 60.0
    wrap_up: Dist = Dist("fixed", 0.0)
    handle_factor_skill: str | None = None  # e.g. "{product}"
    handle_factor: Mapping[int, float] = field(default_factory=dict)
    source: str = "<scenario>"

    @property
    def intervals(self) -> int:
        return round((self.end_s - self.start_s) / self.interval_s)


def _clock(value: Any, where: str, source: str) -> float:
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        hours, minutes = value[:2], value[3:]
        if hours.isdigit() and minutes.isdigit() and int(hours) <= 24 and int(minutes) < 60:
            return int(hours) * 3600.0 + int(minutes) * 60.0
    raise ScenarioError(source, f'{where}: expected a time "HH:MM", got {value!r}')


class _ScenarioParser:
    def __init__(self, source: str, base: Path | None) -> None:
        self.source, self.base = source, base

    def fail(self, problem: str) -> ScenarioError:
        return ScenarioError(self.source, problem)

    def mapping(self, value: Any, where: str) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{where}: expected a mapping")
        return value

    def keys(self, data: Mapping[Any, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            expected = ", ".join(sorted(allowed))
            raise self.fail(f"{where}: unknown key {unknown[0]!r} (expected one of {expected})")

    def number(self, value: Any, where: str, low: float = 0.0, *, strict: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}: expected a number, got {value!r}")
        if value < low or (strict and value == low):
            relation = "greater than" if strict else "at least"
            raise self.fail(f"{where}: must be {relation} {low:g}, got {value!r}")
        return float(value)

    def dist(self, value: Any, where: str, allow_never: bool = False) -> Dist:
        if isinstance(value, str) and value == "never" and allow_never:
            return Dist("never")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Dist("fixed", self.number(value, where))
        if not isinstance(value, Mapping) or len(value) != 1:
            choices = (
                "{fixed: S}, {exponential: MEAN}, {lognormal: [MEAN, SD]}, {uniform: [LO, HI]}"
            )
            if allow_never:
                choices += " or never"
            raise self.fail(f"{where}: expected one of {choices}, got {value!r}")
        ((kind, args),) = value.items()
        if kind in ("fixed", "exponential"):
            return Dist(kind, self.number(args, f"{where}.{kind}", strict=kind == "exponential"))
        if kind in ("lognormal", "uniform"):
            if not isinstance(args, list) or len(args) != 2:
                raise self.fail(f"{where}.{kind}: expected two numbers [.., ..]")
            a = self.number(args[0], f"{where}.{kind}[0]", strict=kind == "lognormal")
            b = self.number(args[1], f"{where}.{kind}[1]")
            if kind == "uniform" and b < a:
                raise self.fail(f"{where}.uniform: high {b:g} is below low {a:g}")
            return Dist(kind, a, b)
        raise self.fail(f"{where}: unknown distribution {kind!r}")

    def shares(
        self, value: Any, where: str, rest: Any, cast: type
    ) -> tuple[tuple[Any, float], ...]:
        data = self.mapping(value, where)
        table: list[tuple[Any, float]] = []
        total = 0.0
        for key, share in data.items():
            if cast is int and (isinstance(key, bool) or key not in (1, 2, 3)):
                raise self.fail(f"{where}: {key!r} is not an urgency (1, 2 or 3)")
            share_value = self.number(share, f"{where}.{key}")
            total += share_value
            table.append((cast(key), share_value))
        if total > 1.0 + 1e-9:
            raise self.fail(f"{where}: shares add up to {total:g}, more than 1")
        if rest not in dict(table):
            table.append((rest, max(0.0, 1.0 - total)))
        return tuple(table)

    def parse(self, data: Any) -> Scenario:
        top = self.mapping(data, "top level")
        self.keys(
            top,
            {"name", "seed", "routes", "day", "behaviour", "profiles", "agents", "call_types"},
            "top level",
        )
        name = str(top.get("name", Path(self.source).stem))
        seed = top.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise self.fail(f"seed: expected an integer, got {seed!r}")
        plan = self.routes(top.get("routes"))

        day = self.mapping(top.get("day"), "day")
        self.keys(day, {"start", "end", "interval_min"}, "day")
        start = _clock(day.get("start"), "day.start", self.source)
        end = _clock(day.get("end"), "day.end", self.source)
        interval = self.number(day.get("interval_min", 30), "day.interval_min", strict=True) * 60
        if end <= start:
            raise self.fail("day.end: must be after day.start")
        if abs(((end - start) / interval) - round((end - start) / interval)) > 1e-9:
            raise self.fail("day.interval_min: must divide the day into whole intervals")
        intervals = round((end - start) / interval)

        behaviour = self.mapping(top.get("behaviour", {}), "behaviour")
        self.keys(
            behaviour,
            {"answer_delay_s", "rona_probability", "rona_pause_s", "wrap_up_s", "handle_factor"},
            "behaviour",
        )
        answer = self.dist(behaviour.get("answer_delay_s", 0), "behaviour.answer_delay_s")
        rona_p = self.number(behaviour.get("rona_probability", 0), "behaviour.rona_probability")
        if rona_p >= 1:
            raise self.fail("behaviour.rona_probability: must be below 1")
        rona_pause = self.number(behaviour.get("rona_pause_s", 60), "behaviour.rona_pause_s")
        wrap = self.dist(behaviour.get("wrap_up_s", 0), "behaviour.wrap_up_s")
        factor_skill: str | None = None
        factors: dict[int, float] = {}
        if "handle_factor" in behaviour:
            hf = self.mapping(behaviour["handle_factor"], "behaviour.handle_factor")
            self.keys(hf, {"skill", "by_level"}, "behaviour.handle_factor")
            factor_skill = hf.get("skill")
            if not isinstance(factor_skill, str) or not factor_skill:
                raise self.fail("behaviour.handle_factor.skill: expected a skill name or template")
            by_level = self.mapping(hf.get("by_level"), "behaviour.handle_factor.by_level")
            for level, value in by_level.items():
                if isinstance(level, bool) or not isinstance(level, int) or level < 0:
                    raise self.fail(f"behaviour.handle_factor.by_level: {level!r} is not a level")
                factors[level] = self.number(
                    value, f"behaviour.handle_factor.by_level.{level}", strict=True
                )
            if 0 not in factors:
                raise self.fail("behaviour.handle_factor.by_level: needs level 0 (skill missing)")

        profiles_raw = self.mapping(top.get("profiles", {}), "profiles")
        profiles: dict[str, list[float]] = {}
        for pname, weights in profiles_raw.items():
            if not isinstance(weights, list) or len(weights) != intervals:
                raise self.fail(
                    f"profiles.{pname}: expected a list of {intervals} weights (one per interval)"
                )
            profiles[str(pname)] = [self.number(w, f"profiles.{pname}") for w in weights]
            if sum(profiles[str(pname)]) <= 0:
                raise self.fail(f"profiles.{pname}: weights add up to 0")

        agents = self.agents(top.get("agents"))
        call_types = self.call_types(top.get("call_types"), intervals, profiles)
        return Scenario(
            name,
            seed,
            plan,
            start,
            end,
            interval,
            agents,
            call_types,
            answer,
            rona_p,
            rona_pause,
            wrap,
            factor_skill,
            factors,
            self.source,
        )

    def routes(self, value: Any) -> RoutingPlan:
        try:
            if isinstance(value, str):
                path = Path(value)
                if not path.is_absolute() and self.base is not None:
                    path = self.base / path
                return load_routes(path)
            if isinstance(value, Mapping):
                return parse_routes(value, f"{self.source} (routes)")
        except RoutesConfigError as exc:
            raise self.fail(f"routes: {exc}") from None
        raise self.fail("routes: expected a routes file path or an inline routes mapping")

    def agents(self, value: Any) -> tuple[AgentGroup, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("agents: expected a non-empty list of agent groups")
        groups: list[AgentGroup] = []
        for i, raw in enumerate(value):
            where = f"agents[{i}]"
            group = self.mapping(raw, where)
            self.keys(group, {"team", "count", "skills", "shift"}, where)
            team = group.get("team")
            if not isinstance(team, str) or not team:
                raise self.fail(f"{where}.team: expected a name")
            count = group.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise self.fail(f"{where}.count: expected a whole number, got {count!r}")
            skills_raw = self.mapping(group.get("skills"), f"{where}.skills")
            skills: dict[str, int] = {}
            for skill, level in skills_raw.items():
                if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 10:
                    raise self.fail(
                        f"{where}.skills.{skill}: expected a level 0..10, got {level!r}"
                    )
                skills[str(skill)] = level
            shift = group.get("shift")
            if not isinstance(shift, list) or len(shift) != 2:
                raise self.fail(f'{where}.shift: expected ["HH:MM", "HH:MM"]')
            s_start = _clock(shift[0], f"{where}.shift[0]", self.source)
            s_end = _clock(shift[1], f"{where}.shift[1]", self.source)
            if s_end <= s_start:
                raise self.fail(f"{where}.shift: ends before it starts")
            groups.append(AgentGroup(team, count, skills, s_start, s_end))
        return tuple(groups)

    def call_types(
        self, value: Any, intervals: int, profiles: Mapping[str, list[float]]
    ) -> tuple[CallType, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("call_types: expected a non-empty list")
        types: list[CallType] = []
        for i, raw in enumerate(value):
            data = self.mapping(raw, f"call_types[{i}]")
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise self.fail(f"call_types[{i}].name: expected a name")
            where = f"call_types[{i}] ({name})"
            self.keys(
                data,
                {
                    "name",
                    "attributes",
                    "tier",
                    "urgency",
                    "callback",
                    "handle_s",
                    "patience_s",
                    "volume",
                },
                where,
            )
            attrs = self.mapping(data.get("attributes"), f"{where}.attributes")
            self.keys(attrs, {"language", "product"}, f"{where}.attributes")
            language, product = attrs.get("language"), attrs.get("product")
            if not isinstance(language, str) or not isinstance(product, str):
                raise self.fail(f"{where}.attributes: language and product must be strings")
            tiers = self.shares(data.get("tier", {}), f"{where}.tier", "standard", str)
            urgencies = self.shares(data.get("urgency", {}), f"{where}.urgency", 3, int)
            callback = self.number(data.get("callback", 0), f"{where}.callback")
            if callback > 1:
                raise self.fail(f"{where}.callback: a share must be at most 1")
            handle = self.dist(data.get("handle_s"), f"{where}.handle_s")
            patience = self.dist(data.get("patience_s", "never"), f"{where}.patience_s", True)
            volume = self.volume(data.get("volume"), f"{where}.volume", intervals, profiles)
            try:
                CallAttributes(language, product)
            except ValueError as exc:
                raise self.fail(f"{where}.attributes: {exc}") from None
            types.append(
                CallType(
                    name, language, product, tiers, urgencies, callback, handle, patience, volume
                )
            )
        return tuple(types)

    def volume(
        self, value: Any, where: str, intervals: int, profiles: Mapping[str, list[float]]
    ) -> tuple[float, ...]:
        if isinstance(value, list):
            if len(value) != intervals:
                raise self.fail(f"{where}: expected {intervals} numbers, got {len(value)}")
            return tuple(self.number(v, where) for v in value)
        data = self.mapping(value, where)
        self.keys(data, {"total", "profile"}, where)
        total = self.number(data.get("total"), f"{where}.total")
        profile_name = data.get("profile", "flat")
        if profile_name == "flat" and "flat" not in profiles:
            weights = [1.0] * intervals
        elif profile_name in profiles:
            weights = profiles[profile_name]
        else:
            raise self.fail(f"{where}.profile: no profile named {profile_name!r}")
        scale = total / sum(weights)
        return tuple(w * scale for w in weights)


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read: {exc.strerror}") from exc
    try:
        data = load_yaml(text, str(path))
    except RoutesConfigError as exc:
        raise ScenarioError(str(path), exc.problem) from None
    return _ScenarioParser(str(path), path.parent).parse(data)


def parse_scenario(data: Any, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    return _ScenarioParser(source, base).parse(data)


# ====================================================================== calls


@dataclass(frozen=True, slots=True)
class SimCall:
    index: int
    call_id: str
    arrival: float
    call_type: str
    attrs: CallAttributes
    handle_s: float  # at level-3 proficiency (see handle_factor)
    patience_s: float


def _draw(table: Sequence[tuple[Any, float]], rng: random.Random) -> Any:
    x = rng.random()
    for value, share in table:
        if x < share:
            return value
        x -= share
    return table[-1][0]


def generate_calls(scenario: Scenario, seed: int | None = None) -> list[SimCall]:
    """The day's calls: a Poisson process per call type and interval."""
    rng = random.Random(scenario.seed if seed is None else seed)
    drawn: list[tuple[float, int, CallType]] = []
    for type_index, ct in enumerate(scenario.call_types):
        for i, expected in enumerate(ct.volume):
            if expected <= 0:
                continue
            start = scenario.start_s + i * scenario.interval_s
            end = start + scenario.interval_s
            rate = expected / scenario.interval_s
            t = start + rng.expovariate(rate)
            while t < end:
                drawn.append((t, type_index, ct))
                t += rng.expovariate(rate)
    drawn.sort(key=lambda d: (d[0], d[1]))
    calls: list[SimCall] = []
    for index, (t, _, ct) in enumerate(drawn):
        attrs = CallAttributes(
            ct.language,
            ct.product,
            tier=_draw(ct.tiers, rng),
            urgency=_draw(ct.urgencies, rng),
            callback=rng.random() < ct.callback_share,
        )
        calls.append(
            SimCall(
                index,
                f"c{index:06d}",
                t,
                ct.name,
                attrs,
                ct.handle.sample(rng),
                ct.patience.sample(rng),
            )
        )
    return calls
