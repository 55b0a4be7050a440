"""A discrete-event contact-centre simulator (the engine; the scenario is in
``scenario.py``, the app_queue-like baselines in ``baselines.py``).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from cti.routing.baselines import (  # re-exported: the simulator's public names
    AppQueueBaseline,
    QueueStrategy,
    RingAllOffer,
    RoutingPolicy,
)
from cti.routing.model import Dnf
from cti.routing.router import (
    CancelOffer,
    CancelReason,
    Decision,
    Offer,
    Overflowed,
    PauseAgent,
    Relaxed,
    Router,
)
from cti.routing.scenario import (
    AgentGroup,
    CallType,
    Dist,
    Scenario,
    ScenarioError,
    SimCall,
    generate_calls,
    load_scenario,
    parse_scenario,
)

# ====================================================================== engine

__all__ = [
    "PENALTY_STRATEGIES",
    "STRATEGIES",
    "AgentGroup",
    "AppQueueBaseline",
    "CallType",
    "Dist",
    "QueueStrategy",
    "RingAllOffer",
    "RoutingPolicy",
    "RouteStats",
    "Scenario",
    "ScenarioError",
    "SimCall",
    "SimulationResult",
    "compare",
    "format_report",
    "generate_calls",
    "load_scenario",
    "make_policy",
    "parse_scenario",
    "simulate",
]

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
