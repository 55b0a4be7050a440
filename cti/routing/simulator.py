"""A discrete-event contact-centre simulator, and app_queue-like baselines.

One scenario file (format in docs/routing.md) describes a day: agents with
skills and shifts, call types with arrival volumes per interval, handle-time
and patience distributions, and the routes file. :func:`generate_calls` draws
the day's calls once from the scenario's seed; every strategy (our
:class:`~cti.routing.router.Router` or an :class:`AppQueueBaseline`) then plays
exactly those calls, with the same handle times, patience, answer delays and
no-answers (drawn per call and attempt from the call's own random stream).

The engine is a plain event heap (no simpy): time jumps from event to event,
and the policy under test sees the same method calls the CTI would make.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Protocol

from cti.routing.config import RoutesConfigError, load_routes, load_yaml, parse_routes
from cti.routing.model import CallAttributes, Dnf, RoutingPlan, SkillLevels
from cti.routing.router import (
    AgentStatus,
    CancelOffer,
    CancelReason,
    Decision,
    Offer,
    Overflowed,
    PauseAgent,
    Relaxed,
    Router,
)

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


# ====================================================================== policies


class RoutingPolicy(Protocol):
    """What the simulator (and the CTI) calls; :class:`Router` is one."""

    def set_agent(self, agent_id: str, skills: SkillLevels, now: float) -> list[Decision]: ...
    def agent_ready(self, agent_id: str, now: float) -> list[Decision]: ...
    def agent_not_ready(self, agent_id: str, now: float) -> list[Decision]: ...
    def call_arrived(self, call_id: str, attrs: CallAttributes, now: float) -> list[Decision]: ...
    def call_left(self, call_id: str, now: float) -> list[Decision]: ...
    def offer_answered(self, call_id: str, agent_id: str, now: float) -> list[Decision]: ...
    def on_timer(self, now: float) -> list[Decision]: ...
    def next_deadline(self) -> float | None: ...


class QueueStrategy(StrEnum):
    RINGALL = "ringall"
    LEASTRECENT = "leastrecent"
    FEWESTCALLS = "fewestcalls"
    RRMEMORY = "rrmemory"


@dataclass(frozen=True, slots=True)
class RingAllOffer(Offer):
    """ringall: ``ringing`` phones ring at once; the first to answer takes the call."""

    ringing: int = 1


@dataclass(slots=True, eq=False)
class _QAgent:
    agent_id: str
    skills: dict[str, int]
    order: int
    status: AgentStatus = AgentStatus.NOT_READY
    call_id: str | None = None
    last_call: float = -math.inf
    queues: list[_Queue] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Queue:
    name: str
    requirement: Dnf
    route_ring_s: float
    members: list[_QAgent] = field(default_factory=list)
    penalty: dict[str, int] = field(default_factory=dict)
    waiting: list[tuple[float, int, str]] = field(default_factory=list)
    calls_taken: dict[str, int] = field(default_factory=dict)
    rr_last: int = -1


@dataclass(slots=True, eq=False)
class _QCall:
    call_id: str
    queue: _Queue
    route: str
    entry: tuple[float, int, str]
    status: AgentStatus = AgentStatus.NOT_READY  # READY = waiting, OFFERED = ringing
    agent_id: str | None = None
    token: int = 0


class AppQueueBaseline:
    """What Asterisk's app_queue does with one queue per skill combination.

    * One queue per route and resolved first-step requirement (e.g. billing in
      Mandarin); a call waits in that one queue only, ordered by a static
      QUEUE_PRIO (tier + urgency + callback + route priority), then arrival.
    * Members: every agent holding all the skills of the requirement, at any
      level. With ``penalties`` (the ``+penalty`` strategies), a member's
      penalty is the sum of its missing levels, so qualified agents are tried
      first (app_queue rings the lowest penalty among available members);
      without, every member has penalty 0.
    * A freed agent is claimed by the head caller of one of its queues that has
      callers waiting, chosen at random (app_queue's callers poll
      independently; no global order across queues). Queue weights are equal.
    * Strategies within a penalty: ringall (all ring, first answer wins),
      leastrecent (oldest last call), fewestcalls (fewest calls taken in this
      queue), rrmemory (round robin from the last answering member).
    * Ring timeout from the route, then autopause (RONA) and the caller tries
      the next member. No relaxation, no overflow, no retry delay (favourable
      to the baseline: app_queue waits ``retry`` seconds between attempts).
    """

    def __init__(
        self, plan: RoutingPlan, strategy: QueueStrategy, seed: int = 0, *, penalties: bool = False
    ) -> None:
        self.plan, self.strategy, self.penalties = plan, strategy, penalties
        self._rng = random.Random(seed)
        self._agents: dict[str, _QAgent] = {}
        self._queues: dict[tuple[str, Dnf], _Queue] = {}
        self._calls: dict[str, _QCall] = {}
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, str, int]] = []

    # ---------------------------------------------------------------- agents
    def set_agent(self, agent_id: str, skills: SkillLevels, now: float) -> list[Decision]:
        if agent_id in self._agents:
            raise ValueError("the baseline does not change skills during a day")
        agent = _QAgent(agent_id, {s: v for s, v in skills.items() if v > 0}, len(self._agents))
        self._agents[agent_id] = agent
        for queue in self._queues.values():
            self._join(queue, agent)
        return []

    def agent_ready(self, agent_id: str, now: float) -> list[Decision]:
        agent = self._agents[agent_id]
        if agent.status in (AgentStatus.READY, AgentStatus.OFFERED):
            return []
        if agent.status is AgentStatus.BUSY:
            agent.last_call = now
        agent.status, agent.call_id = AgentStatus.READY, None
        return self._agent_free(agent, now)

    def agent_not_ready(self, agent_id: str, now: float) -> list[Decision]:
        agent = self._agents[agent_id]
        if agent.status is AgentStatus.OFFERED:
            raise ValueError("the simulator does not pause ringing agents")
        if agent.status is AgentStatus.BUSY:
            agent.last_call = now
        agent.status = AgentStatus.NOT_READY
        return []

    # ---------------------------------------------------------------- calls
    def call_arrived(self, call_id: str, attrs: CallAttributes, now: float) -> list[Decision]:
        route = self.plan.route_for(attrs)
        requirement = route.steps[0].requires.resolve(attrs)
        queue = self._queues.get((route.name, requirement))
        if queue is None:
            queue = _Queue(f"{route.name}[{requirement}]", requirement, route.ring_timeout_s)
            self._queues[(route.name, requirement)] = queue
            for agent in self._agents.values():
                self._join(queue, agent)
        prio = self.plan.priority.static(attrs) + route.priority
        call = _QCall(call_id, queue, route.name, (-prio, next(self._seq), call_id))
        self._calls[call_id] = call
        return self._wait(call, now)

    def call_left(self, call_id: str, now: float) -> list[Decision]:
        call = self._calls.pop(call_id, None)
        if call is None:
            return []
        if call.status is AgentStatus.READY:
            self._unwait(call)
            return []
        assert call.agent_id is not None
        agent = self._agents[call.agent_id]
        agent.status, agent.call_id = AgentStatus.READY, None
        return [
            CancelOffer(call_id, agent.agent_id, CancelReason.CALLER_LEFT),
            *self._agent_free(agent, now),
        ]

    def offer_answered(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        call = self._calls.get(call_id)
        if call is None or call.status is not AgentStatus.OFFERED or call.agent_id != agent_id:
            return []
        del self._calls[call_id]
        agent = self._agents[agent_id]
        agent.status = AgentStatus.BUSY
        queue = call.queue
        queue.calls_taken[agent_id] = queue.calls_taken.get(agent_id, 0) + 1
        queue.rr_last = queue.members.index(agent)
        return []

    def on_timer(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, call_id, token = heapq.heappop(self._timers)
            call = self._calls.get(call_id)
            if call is None or call.status is not AgentStatus.OFFERED or call.token != token:
                continue
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            agent.status, agent.call_id = AgentStatus.NOT_READY, None
            decisions += [
                CancelOffer(call_id, agent.agent_id, CancelReason.NO_ANSWER),
                PauseAgent(agent.agent_id, self.plan.rona_reason),
            ]
            decisions += self._wait(call, now)
        return decisions

    def next_deadline(self) -> float | None:
        while self._timers:
            _, _, call_id, token = self._timers[0]
            call = self._calls.get(call_id)
            if call is not None and call.status is AgentStatus.OFFERED and call.token == token:
                return self._timers[0][0]
            heapq.heappop(self._timers)
        return None

    # ---------------------------------------------------------------- internals
    def _join(self, queue: _Queue, agent: _QAgent) -> None:
        penalty: int | None = None
        for conjunct in queue.requirement.conjuncts:
            if all(skill in agent.skills for skill, _ in conjunct):
                missing = sum(max(0, lvl - agent.skills[s]) for s, lvl in conjunct)
                penalty = missing if penalty is None else min(penalty, missing)
        if penalty is not None:
            queue.members.append(agent)
            queue.penalty[agent.agent_id] = penalty if self.penalties else 0
            agent.queues.append(queue)

    def _wait(self, call: _QCall, now: float) -> list[Decision]:
        """Put the call (back) in its queue at its position; ring if it is at the head."""
        call.status, call.agent_id = AgentStatus.READY, None
        insort(call.queue.waiting, call.entry)
        if call.queue.waiting[0] != call.entry:
            return []
        available = [m for m in call.queue.members if m.status is AgentStatus.READY]
        if not available:
            return []
        return [self._ring(call, available, now)]

    def _unwait(self, call: _QCall) -> None:
        waiting = call.queue.waiting
        del waiting[bisect_left(waiting, call.entry)]

    def _agent_free(self, agent: _QAgent, now: float) -> list[Decision]:
        queues = [q for q in agent.queues if q.waiting]
        if not queues:
            return []
        queue = queues[0] if len(queues) == 1 else self._rng.choice(queues)
        call = self._calls[queue.waiting[0][2]]
        return [self._ring(call, [agent], now)]

    def _ring(self, call: _QCall, available: list[_QAgent], now: float) -> Offer:
        queue = call.queue
        lowest = min(queue.penalty[a.agent_id] for a in available)
        candidates = [a for a in available if queue.penalty[a.agent_id] == lowest]
        ringing = 1
        if self.strategy is QueueStrategy.RINGALL:
            chosen = candidates[0] if len(candidates) == 1 else self._rng.choice(candidates)
            ringing = len(candidates)
        elif self.strategy is QueueStrategy.LEASTRECENT:
            chosen = min(candidates, key=lambda a: (a.last_call, a.order))
        elif self.strategy is QueueStrategy.FEWESTCALLS:
            chosen = min(candidates, key=lambda a: (queue.calls_taken.get(a.agent_id, 0), a.order))
        else:  # rrmemory: the next member after the last one that answered
            size = len(queue.members)
            positions = {a.agent_id: queue.members.index(a) for a in candidates}
            chosen = min(
                candidates, key=lambda a: (positions[a.agent_id] - queue.rr_last - 1) % size
            )
        self._unwait(call)
        call.status, call.agent_id = AgentStatus.OFFERED, chosen.agent_id
        call.token += 1
        chosen.status, chosen.call_id = AgentStatus.OFFERED, call.call_id
        deadline = now + queue.route_ring_s
        heapq.heappush(self._timers, (deadline, next(self._seq), call.call_id, call.token))
        if self.strategy is QueueStrategy.RINGALL:
            return RingAllOffer(
                call.call_id, chosen.agent_id, call.route, 0, queue.route_ring_s, deadline, ringing
            )
        return Offer(call.call_id, chosen.agent_id, call.route, 0, queue.route_ring_s, deadline)


# ====================================================================== engine

STRATEGIES = ("router", *(s.value for s in QueueStrategy))
PENALTY_STRATEGIES = tuple(f"{s.value}+penalty" for s in QueueStrategy)


class _A(Enum):
    OFF = 0
    READY = 1
    RINGING = 2
    TALKING = 3
    WRAP = 4
    PAUSED = 5


_BUSY_STATES = (_A.RINGING, _A.TALKING, _A.WRAP)


@dataclass(slots=True, eq=False)
class _SimAgent:
    agent_id: str
    team: str
    skills: dict[str, int]
    shift_start: float
    shift_end: float
    state: _A = _A.OFF
    since: float = 0.0
    busy_s: float = 0.0
    idle_s: float = 0.0
    leaving: bool = False
    call: int | None = None


@dataclass(slots=True, eq=False)
class _SimCallState:
    call: SimCall
    route: str
    within_s: float
    requirement: Dnf
    seed: int
    agent: str | None = None
    token: int = 0
    answered_at: float | None = None
    abandoned_at: float | None = None
    skill_match: bool = False
    relaxed: bool = False
    overflowed: bool = False
    _rng: random.Random | None = None

    @property
    def rng(self) -> random.Random:
        """The call's own random stream (answer delays, no-answers, wrap-up)."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng


@dataclass(frozen=True, slots=True)
class RouteStats:
    name: str
    offered: int
    answered: int
    answered_within: int
    abandoned: int
    unanswered: int  # still waiting when the day's last agent left
    asa_s: float
    service_level: float  # answered within target / offered (abandons count against)
    abandon_rate: float
    occupancy: float
    skill_match: float  # answered by an agent meeting the route's first step
    target: float
    within_s: float


@dataclass(frozen=True, slots=True)
class SimulationResult:
    scenario: str
    strategy: str
    total: RouteStats
    routes: Mapping[str, RouteStats]
    team_occupancy: Mapping[str, float]
    offers: int
    ronas: int
    relaxed: int
    overflowed: int


_ARRIVE, _ANSWER, _TALK_END, _WRAP_END, _ABANDON, _SHIFT_START, _SHIFT_END, _UNPAUSE, _TIMER = (
    range(9)
)


class _Run:
    def __init__(
        self, scenario: Scenario, policy: RoutingPolicy, calls: Sequence[SimCall], strategy: str
    ) -> None:
        self.sc, self.policy, self.strategy = scenario, policy, strategy
        self.calls = [
            _SimCallState(
                c,
                (route := scenario.plan.route_for(c.attrs)).name,
                route.service_level.within_s,
                route.steps[0].requires.resolve(c.attrs),
                scenario.seed * 1_000_003 + c.index,
            )
            for c in calls
        ]
        self.by_id = {c.call.call_id: c for c in self.calls}
        self.agents: dict[str, _SimAgent] = {}
        self.events: list[tuple[float, int, int, int, str]] = []
        self.seq = itertools.count()
        self.timer_at: float | None = None
        self.offers = self.ronas = self.relaxed = self.overflowed = 0
        numbers: dict[str, int] = {}
        for group in scenario.agents:
            for _ in range(group.count):
                numbers[group.team] = numbers.get(group.team, 0) + 1
                agent_id = f"{group.team}-{numbers[group.team]:03d}"
                self.agents[agent_id] = _SimAgent(
                    agent_id, group.team, dict(group.skills), group.shift_start, group.shift_end
                )

    def push(self, at: float, kind: int, index: int = -1, name: str = "") -> None:
        heapq.heappush(self.events, (at, next(self.seq), kind, index, name))

    def run(self) -> SimulationResult:
        for agent in self.agents.values():
            self.policy.set_agent(agent.agent_id, agent.skills, self.sc.start_s)
            self.push(agent.shift_start, _SHIFT_START, name=agent.agent_id)
            self.push(agent.shift_end, _SHIFT_END, name=agent.agent_id)
        for state in self.calls:
            self.push(state.call.arrival, _ARRIVE, state.call.index)
        policy = self.policy
        while self.events:
            now, _, kind, index, name = heapq.heappop(self.events)
            decisions: list[Decision]
            if kind == _ARRIVE:
                state = self.calls[index]
                if math.isfinite(state.call.patience_s):
                    self.push(now + state.call.patience_s, _ABANDON, index)
                decisions = policy.call_arrived(state.call.call_id, state.call.attrs, now)
            elif kind == _ANSWER:
                decisions = self.answer(self.calls[index], name, now)
            elif kind == _TALK_END:
                agent = self.agents[name]
                self.set_state(agent, _A.WRAP, now)
                wrap = self.sc.wrap_up.sample(self.calls[index].rng)
                self.push(now + wrap, _WRAP_END, index, name)
                decisions = []
            elif kind == _WRAP_END:
                agent = self.agents[name]
                agent.call = None
                if agent.leaving or now >= agent.shift_end:
                    self.set_state(agent, _A.OFF, now)
                    decisions = policy.agent_not_ready(name, now)
                else:
                    self.set_state(agent, _A.READY, now)
                    decisions = policy.agent_ready(name, now)
            elif kind == _ABANDON:
                state = self.calls[index]
                if state.answered_at is not None:
                    continue
                state.abandoned_at = now
                decisions = policy.call_left(state.call.call_id, now)
            elif kind == _SHIFT_START:
                agent = self.agents[name]
                self.set_state(agent, _A.READY, now)
                decisions = policy.agent_ready(name, now)
            elif kind == _SHIFT_END:
                agent = self.agents[name]
                if agent.state in (_A.READY, _A.PAUSED):
                    was = agent.state
                    self.set_state(agent, _A.OFF, now)
                    decisions = policy.agent_not_ready(name, now) if was is _A.READY else []
                else:
                    agent.leaving = True
                    decisions = []
            elif kind == _UNPAUSE:
                agent = self.agents[name]
                if agent.state is not _A.PAUSED:
                    continue
                self.set_state(agent, _A.READY, now)
                decisions = policy.agent_ready(name, now)
            else:  # _TIMER
                if self.timer_at == now:
                    self.timer_at = None
                decisions = policy.on_timer(now)
            self.apply(decisions, now)
            deadline = policy.next_deadline()
            if deadline is not None and (self.timer_at is None or deadline < self.timer_at):
                self.timer_at = max(deadline, now)
                self.push(self.timer_at, _TIMER)
        end = max(self.sc.end_s, max(a.shift_end for a in self.agents.values()))
        for agent in self.agents.values():
            if agent.state is not _A.OFF:
                self.set_state(agent, _A.OFF, max(end, agent.since))
        return self.result()

    def set_state(self, agent: _SimAgent, state: _A, now: float) -> None:
        elapsed = max(0.0, now - agent.since)
        if agent.state is _A.READY:
            agent.idle_s += elapsed
        elif agent.state in _BUSY_STATES:
            agent.busy_s += elapsed
        agent.state, agent.since = state, now

    def apply(self, decisions: list[Decision], now: float) -> None:
        freed: list[_SimAgent] = []
        for decision in decisions:
            if isinstance(decision, Offer):
                self.ring(decision, now)
            elif isinstance(decision, CancelOffer):
                state = self.by_id[decision.call_id]
                state.token += 1
                state.agent = None
                agent = self.agents[decision.agent_id]
                if decision.reason is CancelReason.CALLER_LEFT:
                    self.set_state(agent, _A.READY, now)
                    if agent.leaving:
                        freed.append(agent)
            elif isinstance(decision, PauseAgent):
                agent = self.agents[decision.agent_id]
                self.ronas += 1
                if agent.leaving or now >= agent.shift_end:
                    self.set_state(agent, _A.OFF, now)
                    self.apply(self.policy.agent_not_ready(agent.agent_id, now), now)
                else:
                    self.set_state(agent, _A.PAUSED, now)
                    self.push(now + self.sc.rona_pause_s, _UNPAUSE, name=agent.agent_id)
            elif isinstance(decision, Relaxed):
                self.by_id[decision.call_id].relaxed = True
                self.relaxed += 1
            elif isinstance(decision, Overflowed):
                self.by_id[decision.call_id].overflowed = True
                self.overflowed += 1
        for agent in freed:  # shift over and not offered another call: log out
            if agent.state is _A.READY:
                self.set_state(agent, _A.OFF, now)
                self.apply(self.policy.agent_not_ready(agent.agent_id, now), now)

    def ring(self, offer: Offer, now: float) -> None:
        agent = self.agents[offer.agent_id]
        state = self.by_id[offer.call_id]
        if agent.state is not _A.READY or state.answered_at is not None:
            raise AssertionError(f"{self.strategy}: offered {offer} to a {agent.state} agent")
        self.offers += 1
        self.set_state(agent, _A.RINGING, now)
        state.agent, state.token = agent.agent_id, state.token + 1
        phones = offer.ringing if isinstance(offer, RingAllOffer) else 1
        delay = min(self.sc.answer_delay.sample(state.rng) for _ in range(phones))
        p = self.sc.rona_probability
        no_answer = p > 0 and all(state.rng.random() < p for _ in range(phones))
        if no_answer or delay >= offer.ring_timeout_s:
            return  # the policy's ring timeout fires
        self.push(now + delay, _ANSWER, state.call.index, f"{state.token}:{agent.agent_id}")

    def answer(self, state: _SimCallState, name: str, now: float) -> list[Decision]:
        token, agent_id = name.split(":", 1)
        if int(token) != state.token or state.agent != agent_id or state.abandoned_at is not None:
            return []
        decisions = self.policy.offer_answered(state.call.call_id, agent_id, now)
        agent = self.agents[agent_id]
        state.answered_at = now
        state.skill_match = state.requirement.matches(agent.skills)
        self.set_state(agent, _A.TALKING, now)
        agent.call = state.call.index
        self.push(
            now + state.call.handle_s * self.factor(state, agent),
            _TALK_END,
            state.call.index,
            agent_id,
        )
        return decisions

    def factor(self, state: _SimCallState, agent: _SimAgent) -> float:
        template = self.sc.handle_factor_skill
        if template is None or not self.sc.handle_factor:
            return 1.0
        attrs = state.call.attrs
        skill = (
            template.replace("{product}", attrs.product)
            .replace("{language}", attrs.language)
            .replace("{tier}", attrs.tier)
        )
        level = agent.skills.get(skill, 0)
        known = [lvl for lvl in self.sc.handle_factor if lvl <= level]
        return self.sc.handle_factor[max(known)] if known else 1.0

    # ---------------------------------------------------------------- results
    def result(self) -> SimulationResult:
        by_route: dict[str, list[_SimCallState]] = {}
        for state in self.calls:
            by_route.setdefault(state.route, []).append(state)
        routes = {name: self.stats(name, calls) for name, calls in sorted(by_route.items())}
        total = self.stats("all", self.calls)
        teams: dict[str, list[float]] = {}
        for agent in self.agents.values():
            acc = teams.setdefault(agent.team, [0.0, 0.0])
            acc[0] += agent.busy_s
            acc[1] += agent.busy_s + agent.idle_s
        return SimulationResult(
            self.sc.name,
            self.strategy,
            total,
            routes,
            {team: (b / t if t else 0.0) for team, (b, t) in teams.items()},
            self.offers,
            self.ronas,
            self.relaxed,
            self.overflowed,
        )

    def stats(self, name: str, calls: Sequence[_SimCallState]) -> RouteStats:
        offered = len(calls)
        answered = [c for c in calls if c.answered_at is not None]
        within = sum(
            1
            for c in answered
            if c.answered_at is not None and c.answered_at - c.call.arrival <= c.within_s + 1e-9
        )
        abandoned = sum(1 for c in calls if c.abandoned_at is not None)
        waits = [c.answered_at - c.call.arrival for c in answered if c.answered_at is not None]
        requirements = {c.requirement for c in calls}
        home = [a for a in self.agents.values() if any(r.matches(a.skills) for r in requirements)]
        busy = sum(a.busy_s for a in home)
        span = sum(a.busy_s + a.idle_s for a in home)
        route = None if name == "all" else self.sc.plan.route(name)
        return RouteStats(
            name,
            offered,
            len(answered),
            within,
            abandoned,
            offered - len(answered) - abandoned,
            sum(waits) / len(waits) if waits else 0.0,
            within / offered if offered else 1.0,
            abandoned / offered if offered else 0.0,
            busy / span if span else 0.0,
            sum(1 for c in answered if c.skill_match) / len(answered) if answered else 1.0,
            route.service_level.target if route else 0.0,
            route.service_level.within_s if route else 0.0,
        )


def make_policy(scenario: Scenario, strategy: str) -> RoutingPolicy:
    if strategy == "router":
        return Router(scenario.plan)
    name, plus, option = strategy.partition("+")
    if plus and option != "penalty":
        raise ValueError(f"unknown strategy {strategy!r}")
    return AppQueueBaseline(
        scenario.plan, QueueStrategy(name), seed=scenario.seed, penalties=bool(plus)
    )


def simulate(
    scenario: Scenario,
    strategy: str = "router",
    calls: Sequence[SimCall] | None = None,
    policy: RoutingPolicy | None = None,
) -> SimulationResult:
    """Play the scenario's day with one strategy (``router`` or an app_queue strategy)."""
    if calls is None:
        calls = generate_calls(scenario)
    if policy is None:
        policy = make_policy(scenario, strategy)
    return _Run(scenario, policy, calls, strategy).run()


def compare(
    scenario: Scenario, strategies: Sequence[str] = STRATEGIES
) -> dict[str, SimulationResult]:
    """Every strategy on the same calls."""
    calls = generate_calls(scenario)
    return {s: simulate(scenario, s, calls) for s in strategies}


def format_report(results: Mapping[str, SimulationResult]) -> str:
    lines: list[str] = []
    header = (
        f"{'strategy':<20} {'route':<10} {'offered':>7} {'SL':>6} {'target':>11} {'ASA s':>7} "
        f"{'abandon':>7} {'occup.':>6} {'skill':>6}"
    )
    for strategy, result in results.items():
        lines.append(header if not lines else "")
        for stats in [*result.routes.values(), result.total]:
            target = f"{stats.target:.0%}/{stats.within_s:g}s" if stats.name != "all" else ""
            lines.append(
                f"{strategy:<20} {stats.name:<10} {stats.offered:>7} {stats.service_level:>6.1%} "
                f"{target:>11} {stats.asa_s:>7.1f} {stats.abandon_rate:>7.1%} "
                f"{stats.occupancy:>6.1%} {stats.skill_match:>6.1%}"
            )
        teams = ", ".join(f"{t} {o:.0%}" for t, o in result.team_occupancy.items())
        lines.append(
            f"{strategy:<20} offers {result.offers}, RONA {result.ronas}, relaxed "
            f"{result.relaxed}, overflowed {result.overflowed}; occupancy by team: {teams}"
        )
    return "\n".join(lines)
