"""What the simulator plays a day against: the routing policy interface and
app_queue-like baselines (:class:`AppQueueBaseline`)."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from cti.routing.model import CallAttributes, Dnf, RoutingPlan, SkillLevels
from cti.routing.router import (
    AgentStatus,
    CancelOffer,
    CancelReason,
    Decision,
    Offer,
    PauseAgent,
)

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
