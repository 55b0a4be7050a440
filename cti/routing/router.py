"""The skills router: event-driven, indexed, with the clock injected.

Events in are method calls (``agent_ready``, ``call_arrived``, ...); each
returns the decisions the CTI must carry out, in order. Time-driven work
(relaxation steps, overflow, ring timeouts, service-level thresholds) happens in
:meth:`Router.on_timer`;
the CTI arms one timer at :meth:`Router.next_deadline` and calls ``on_timer``
when it fires.

Matching rules
--------------
* A call accepts, as *tiers*, the requirement of each step reached so far
  (and, after an overflow, the steps of the next route): agents meeting an
  earlier tier are preferred.
* Among agents of the best tier: the fewest skills first (keep multi-skilled
  agents for the calls only they can take), then fairness (longest idle, or
  least occupancy when they became ready, then longest idle).
* An agent who becomes ready takes the highest-priority waiting call it
  qualifies for (:class:`~cti.routing.model.PriorityPolicy`).
* Service-level-aware ordering (``missed_service_level``): when a call reaches
  its route's service-level threshold unanswered, a timer lowers its priority
  once, so calls that can still be answered in time go first.
* Invariant after every event: no ready agent qualifies for any waiting call.
  Each event therefore needs only a local search.

Indexes: ready agents sit in per-(skill, level) lists sorted by preference;
a search walks the smallest list that a conjunct needs. Waiting calls sit in
groups of identical tiers, sorted by priority; an agent checks each non-empty
group's head (eligibility cached per skill profile).
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from cti.routing.decisions import (
    CancelOffer,
    CancelReason,
    Decision,
    Offer,
    Overflowed,
    PauseAgent,
    Relaxed,
)
from cti.routing.model import CallAttributes, Dnf, Fairness, Route, RoutingPlan, SkillLevels

# decisions (cti/routing/decisions.py) are re-exported here
__all__ = [
    "AgentStatus",
    "CallStatus",
    "CancelOffer",
    "CancelReason",
    "Decision",
    "FullScanRouter",
    "Offer",
    "Overflowed",
    "PauseAgent",
    "Relaxed",
    "Router",
    "UnknownAgent",
    "WaitingCall",
]


class UnknownAgent(KeyError):
    pass


# ------------------------------------------------------------------ state
class AgentStatus(Enum):
    NOT_READY = "not_ready"  # logged out, paused, after-call work
    READY = "ready"
    OFFERED = "offered"  # ringing with one of our offers
    BUSY = "busy"  # on a call we routed, until the next ready/not-ready


class CallStatus(Enum):
    WAITING = "waiting"
    OFFERED = "offered"


# (breadth, fairness, ready since, sequence, agent id): smaller is preferred
AgentEntry = tuple[int, float, float, int, str]
# (-priority key, sequence, call id): smaller is served first
CallEntry = tuple[float, int, str]


@dataclass(slots=True, eq=False)
class _Agent:
    agent_id: str
    skills: dict[str, int]
    profile: int
    breadth: int
    status: AgentStatus = AgentStatus.NOT_READY
    entry: AgentEntry | None = None
    call_id: str | None = None
    since: float = 0.0
    busy_s: float = 0.0
    idle_s: float = 0.0


@dataclass(slots=True, eq=False)
class _Call:
    call_id: str
    attrs: CallAttributes
    entry_route: Route
    route: Route
    queued_at: float
    route_since: float
    key: float
    seq: int
    tiers: tuple[Dnf, ...]
    step: int = 0
    overflowed: bool = False
    status: CallStatus = CallStatus.WAITING
    agent_id: str | None = None
    entry: CallEntry | None = None
    # timer tokens, drawn from the router's sequence: unique even when a call id is reused
    relax_token: int = 0
    offer_token: int = 0
    ronas: int = 0
    missed: bool = False  # reached its service-level threshold unanswered


@dataclass(slots=True, eq=False)
class _Group:
    gid: int
    tiers: tuple[Dnf, ...]
    union: Dnf
    entries: list[CallEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    route: str
    entry_route: str
    step: int
    priority: float
    waited_s: float
    offered_to: str | None


_STEP, _RING, _MISSED = 0, 1, 2  # timer kinds


class Router:
    """Skills- and priority-based router over one :class:`RoutingPlan`."""

    def __init__(self, plan: RoutingPlan) -> None:
        self.plan = plan
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, int, str, int]] = []
        self._profiles: dict[frozenset[tuple[str, int]], int] = {}
        self._resolved: dict[tuple[int, CallAttributes], Dnf] = {}
        # agent index: skill -> level -> sorted entries of READY agents
        self._buckets: dict[str, dict[int, list[AgentEntry]]] = {}
        # call index: groups of identical tiers; active = non-empty
        self._groups: dict[tuple[Dnf, ...], _Group] = {}
        self._active: dict[int, _Group] = {}
        self._agent_tier: dict[tuple[int, int], int] = {}  # (profile, group) -> tier or -1
        self._retired: dict[str, Route] = {}  # routes of replaced plans, for their calls

    def use_plan(self, plan: RoutingPlan) -> None:
        """Route new calls by ``plan``; calls already waiting keep their route and
        steps (an overflow goes to the new plan's route of that name, else the old)."""
        self._retired.update((r.name, r) for r in self.plan.routes)
        self.plan = plan

    # ============================================================== agents
    def set_agent(self, agent_id: str, skills: SkillLevels, now: float) -> list[Decision]:
        """Register an agent (not ready) or change its skills."""
        clean = {s: int(lvl) for s, lvl in skills.items() if lvl > 0}
        profile_key = frozenset(clean.items())
        profile = self._profiles.setdefault(profile_key, len(self._profiles))
        agent = self._agents.get(agent_id)
        if agent is None:
            self._agents[agent_id] = _Agent(agent_id, clean, profile, len(clean), since=now)
            return []
        was_ready = agent.status is AgentStatus.READY
        if was_ready:
            self._index_remove(agent)
        agent.skills, agent.profile, agent.breadth = clean, profile, len(clean)
        if not was_ready:
            return []
        assert agent.entry is not None
        agent.entry = (agent.breadth, *agent.entry[1:])
        return self._agent_available(agent, now)

    def remove_agent(self, agent_id: str, now: float) -> list[Decision]:
        decisions = self.agent_not_ready(agent_id, now)
        del self._agents[agent_id]
        return decisions

    def agent_ready(self, agent_id: str, now: float) -> list[Decision]:
        """The agent can take a call now (logged in, unpaused, after-call work done)."""
        agent = self._agent(agent_id)
        if agent.status in (AgentStatus.READY, AgentStatus.OFFERED):
            return []
        self._close_segment(agent, now)
        agent.call_id = None
        agent.entry = (agent.breadth, self._fairness(agent, now), now, next(self._seq), agent_id)
        return self._agent_available(agent, now)

    def agent_not_ready(self, agent_id: str, now: float) -> list[Decision]:
        """Paused, logged out, or busy with work we did not route."""
        agent = self._agent(agent_id)
        decisions: list[Decision] = []
        if agent.status is AgentStatus.READY:
            self._index_remove(agent)
        elif agent.status is AgentStatus.OFFERED:
            assert agent.call_id is not None
            call = self._calls[agent.call_id]
            decisions.append(CancelOffer(call.call_id, agent_id, CancelReason.AGENT_UNAVAILABLE))
            self._close_segment(agent, now)
            agent.status, agent.call_id = AgentStatus.NOT_READY, None
            decisions += self._requeue_at_head(call, now)
            return decisions
        self._close_segment(agent, now)
        agent.status, agent.call_id = AgentStatus.NOT_READY, None
        return decisions

    # ============================================================== calls
    def call_arrived(self, call_id: str, attrs: CallAttributes, now: float) -> list[Decision]:
        if call_id in self._calls:
            raise ValueError(f"call {call_id} is already being routed")
        route = self.plan.route_for(attrs)
        key = self.plan.priority.sort_key(attrs, now, route.priority)
        call = _Call(
            call_id,
            attrs,
            route,
            route,
            now,
            now,
            key,
            next(self._seq),
            (self._req(route, 0, attrs),),
        )
        self._calls[call_id] = call
        self._schedule_relax(call)
        if self.plan.priority.missed_service_level:
            at = now + route.service_level.within_s
            heapq.heappush(self._timers, (at, next(self._seq), _MISSED, call_id, call.seq))
        return self._place(call, now)

    def call_left(self, call_id: str, now: float) -> list[Decision]:
        """The caller hung up (or the call was taken elsewhere) before being answered."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return []
        if call.status is CallStatus.WAITING:
            self._queue_remove(call)
            return []
        assert call.agent_id is not None
        agent = self._agents[call.agent_id]
        decisions: list[Decision] = [CancelOffer(call_id, agent.agent_id, CancelReason.CALLER_LEFT)]
        # not the agent's fault: back to ready, keeping its place in line
        self._close_segment(agent, now)
        agent.call_id = None
        return decisions + self._agent_available(agent, now)

    def offer_answered(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        call = self._calls.get(call_id)
        if call is None or call.status is not CallStatus.OFFERED or call.agent_id != agent_id:
            return []  # stale: the offer was already cancelled
        del self._calls[call_id]
        agent = self._agents[agent_id]
        agent.status = AgentStatus.BUSY
        return []

    def extend_offer(self, call_id: str, agent_id: str, deadline: float) -> bool:
        """Move an offer's ring timeout (e.g. a call-back that rings the customer
        before the agent). False when the offer is no longer current."""
        call = self._calls.get(call_id)
        if call is None or call.status is not CallStatus.OFFERED or call.agent_id != agent_id:
            return False
        call.offer_token = next(self._seq)
        heapq.heappush(
            self._timers, (deadline, next(self._seq), _RING, call.call_id, call.offer_token)
        )
        return True

    def offer_failed(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        """The PBX reports the agent did not take the call (no answer, busy, rejected)."""
        call = self._calls.get(call_id)
        if call is None or call.status is not CallStatus.OFFERED or call.agent_id != agent_id:
            return []
        return self._rona(call, now)

    # ============================================================== time
    def next_deadline(self) -> float | None:
        while self._timers and not self._timer_valid(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def on_timer(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)
            if not self._timer_valid(timer):
                continue
            at, _, kind, call_id, _ = timer
            call = self._calls[call_id]
            if kind == _RING:
                decisions += self._rona(call, at)
            elif kind == _MISSED:
                self._miss(call)
            else:
                decisions += self._relax(call, at)
        return decisions

    # ============================================================== views
    @property
    def waiting_count(self) -> int:
        return sum(1 for c in self._calls.values() if c.status is CallStatus.WAITING)

    @property
    def ready_count(self) -> int:
        return sum(1 for a in self._agents.values() if a.status is AgentStatus.READY)

    def offered_to(self, call_id: str) -> str | None:
        """The agent ringing with our offer of ``call_id``, if any."""
        call = self._calls.get(call_id)
        return call.agent_id if call is not None and call.status is CallStatus.OFFERED else None

    def agent_status(self, agent_id: str) -> AgentStatus:
        return self._agent(agent_id).status

    def occupancy(self, agent_id: str, now: float) -> float:
        """Busy share of the agent's available time (paused time excluded)."""
        agent = self._agent(agent_id)
        busy, idle = agent.busy_s, agent.idle_s
        if agent.status is AgentStatus.READY:
            idle += now - agent.since
        elif agent.status in (AgentStatus.OFFERED, AgentStatus.BUSY):
            busy += now - agent.since
        return busy / (busy + idle) if busy + idle > 0 else 0.0

    def waiting(self, now: float) -> list[WaitingCall]:
        """Calls not yet answered, in the order they will be served."""
        calls = sorted(self._calls.values(), key=lambda c: (-c.key, c.seq))
        return [
            WaitingCall(
                c.call_id,
                c.route.name,
                c.entry_route.name,
                c.step,
                self.plan.priority.priority(
                    c.attrs,
                    c.queued_at,
                    now,
                    c.route.priority,
                    c.entry_route.service_level.within_s if c.missed else math.inf,
                ),
                now - c.queued_at,
                c.agent_id,
            )
            for c in calls
        ]

    # ============================================================== internals
    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def _req(self, route: Route, step: int, attrs: CallAttributes) -> Dnf:
        cache_key = (id(route.steps[step]), attrs)
        dnf = self._resolved.get(cache_key)
        if dnf is None:
            dnf = self._resolved[cache_key] = route.steps[step].requires.resolve(attrs)
        return dnf

    def _fairness(self, agent: _Agent, now: float) -> float:
        if self.plan.fairness is Fairness.LEAST_OCCUPANCY:
            return self.occupancy(agent.agent_id, now)
        return now

    @staticmethod
    def _close_segment(agent: _Agent, now: float) -> None:
        elapsed = max(0.0, now - agent.since)
        if agent.status is AgentStatus.READY:
            agent.idle_s += elapsed
        elif agent.status in (AgentStatus.OFFERED, AgentStatus.BUSY):
            agent.busy_s += elapsed
        agent.since = now

    def _agent_available(self, agent: _Agent, now: float) -> list[Decision]:
        """The agent is free (entry set): take the best waiting call, or wait in the index."""
        call = self._best_call(agent)
        if call is not None:
            self._queue_remove(call)
            agent.status = AgentStatus.READY
            agent.since = now
            return [self._offer(call, agent, self._tier_of(call, agent), now)]
        agent.status = AgentStatus.READY
        agent.since = now
        self._index_add(agent)
        return []

    @staticmethod
    def _tier_of(call: _Call, agent: _Agent) -> int:
        tier = _first_tier(call.tiers, agent.skills)
        assert tier >= 0, "agent does not qualify"
        return tier

    def _place(self, call: _Call, now: float) -> list[Decision]:
        """A call looking for an agent: offer it, or queue it."""
        found = self._best_agent(call.tiers)
        if found is None:
            call.status, call.agent_id = CallStatus.WAITING, None
            self._queue_add(call)
            return []
        agent, tier = found
        self._index_remove(agent)
        return [self._offer(call, agent, tier, now)]

    def _offer(self, call: _Call, agent: _Agent, tier: int, now: float) -> Offer:
        self._close_segment(agent, now)  # idle time ends
        agent.status, agent.call_id = AgentStatus.OFFERED, call.call_id
        call.status, call.agent_id = CallStatus.OFFERED, agent.agent_id
        call.offer_token = next(self._seq)
        deadline = now + call.route.ring_timeout_s
        heapq.heappush(
            self._timers, (deadline, next(self._seq), _RING, call.call_id, call.offer_token)
        )
        return Offer(
            call.call_id, agent.agent_id, call.route.name, tier, call.route.ring_timeout_s, deadline
        )

    def _rona(self, call: _Call, now: float) -> list[Decision]:
        assert call.agent_id is not None
        agent = self._agents[call.agent_id]
        decisions: list[Decision] = [
            CancelOffer(call.call_id, agent.agent_id, CancelReason.NO_ANSWER),
            PauseAgent(agent.agent_id, self.plan.rona_reason),
        ]
        self._close_segment(agent, now)
        agent.status, agent.call_id = AgentStatus.NOT_READY, None
        call.ronas += 1
        return decisions + self._requeue_at_head(call, now)

    def _requeue_at_head(self, call: _Call, now: float) -> list[Decision]:
        head = self._head_key()
        if head is not None and head >= call.key:
            call.key = head + 1e-3
        call.offer_token = next(self._seq)
        call.status, call.agent_id = CallStatus.WAITING, None
        return self._place(call, now)

    def _schedule_relax(self, call: _Call) -> None:
        call.relax_token = next(self._seq)
        route = call.route
        if call.step + 1 < len(route.steps):
            at = call.route_since + route.steps[call.step + 1].after_s
        elif route.overflow is not None:
            at = call.route_since + route.overflow.after_s
        else:
            return
        heapq.heappush(self._timers, (at, next(self._seq), _STEP, call.call_id, call.relax_token))

    def _timer_valid(self, timer: tuple[float, int, int, str, int]) -> bool:
        _, _, kind, call_id, token = timer
        call = self._calls.get(call_id)
        if call is None:
            return False
        if kind == _RING:
            return call.status is CallStatus.OFFERED and call.offer_token == token
        if kind == _MISSED:
            return call.seq == token and not call.missed
        return call.relax_token == token

    def _miss(self, call: _Call) -> None:
        """The call reached its route's service-level threshold: it yields to calls that
        can still be answered in time. Only its place in line changes: no new agent
        qualifies, so the invariant holds and nothing is offered."""
        waiting = call.status is CallStatus.WAITING
        if waiting:
            self._queue_remove(call)
        call.key -= self.plan.priority.missed_service_level
        call.missed = True
        if waiting:
            self._queue_add(call)

    def _relax(self, call: _Call, now: float) -> list[Decision]:
        route = call.route
        decisions: list[Decision] = []
        if call.step + 1 < len(route.steps):
            call.step += 1
            decisions.append(Relaxed(call.call_id, route.name, call.step, now))
        else:
            assert route.overflow is not None
            to = route.overflow.to
            target = self.plan.route(to) if self.plan.has_route(to) else self._retired[to]
            call.key += target.priority - route.priority
            call.route, call.route_since, call.step, call.overflowed = target, now, 0, True
            decisions.append(Overflowed(call.call_id, route.name, target.name, now))
        new = self._req(call.route, call.step, call.attrs)
        self._schedule_relax(call)
        waiting = call.status is CallStatus.WAITING
        if waiting:
            self._queue_remove(call)
        if new not in call.tiers:
            call.tiers = (*call.tiers, new)
        elif waiting:
            self._queue_add(call)  # same tiers, maybe a new priority (overflow)
            return decisions
        if not waiting:
            return decisions  # ringing: the new tier applies if it comes back
        # by the invariant no ready agent meets the earlier tiers: search the new one only
        found = self._best_agent((new,))
        if found is None:
            self._queue_add(call)
            return decisions
        agent, _ = found
        self._index_remove(agent)
        decisions.append(self._offer(call, agent, len(call.tiers) - 1, now))
        return decisions

    # ------------------------------------------------------------ agent index
    def _index_add(self, agent: _Agent) -> None:
        assert agent.entry is not None
        for skill, level in agent.skills.items():
            insort(self._buckets.setdefault(skill, {}).setdefault(level, []), agent.entry)

    def _index_remove(self, agent: _Agent) -> None:
        entry = agent.entry
        assert entry is not None
        for skill, level in agent.skills.items():
            bucket = self._buckets[skill][level]
            i = bisect_left(bucket, entry)
            if i < len(bucket) and bucket[i] == entry:
                del bucket[i]

    def _lists(self, skill: str, level: int) -> list[list[AgentEntry]]:
        levels = self._buckets.get(skill)
        if not levels:
            return []
        return [b for lvl, b in levels.items() if lvl >= level and b]

    def _best_agent(self, tiers: Sequence[Dnf]) -> tuple[_Agent, int] | None:
        for tier, dnf in enumerate(tiers):
            entry = self._best_entry(dnf)
            if entry is not None:
                return self._agents[entry[-1]], tier
        return None

    def _best_entry(self, dnf: Dnf) -> AgentEntry | None:
        best: AgentEntry | None = None
        agents = self._agents
        for conjunct in dnf.conjuncts:
            driving: list[list[AgentEntry]] | None = None
            smallest = -1
            for skill, level in conjunct:
                lists = self._lists(skill, level)
                size = sum(len(b) for b in lists)
                if size == 0:
                    driving = None
                    break
                if driving is None or size < smallest:
                    driving, smallest = lists, size
            if driving is None:
                continue
            candidates: Iterable[AgentEntry] = (
                driving[0] if len(driving) == 1 else heapq.merge(*driving)
            )
            for entry in candidates:
                if best is not None and entry >= best:
                    break
                skills = agents[entry[-1]].skills
                for skill, level in conjunct:
                    if skills.get(skill, 0) < level:
                        break
                else:
                    best = entry
                    break
        return best

    # ------------------------------------------------------------ call index
    def _queue_add(self, call: _Call) -> None:
        group = self._groups.get(call.tiers)
        if group is None:
            union = call.tiers[0]
            for dnf in call.tiers[1:]:
                union = union.union(dnf)
            group = self._groups[call.tiers] = _Group(len(self._groups), call.tiers, union)
        call.entry = (-call.key, call.seq, call.call_id)
        insort(group.entries, call.entry)
        self._active[group.gid] = group

    def _queue_remove(self, call: _Call) -> None:
        group = self._groups[call.tiers]
        entries = group.entries
        assert call.entry is not None
        i = bisect_left(entries, call.entry)
        if i < len(entries) and entries[i] == call.entry:
            del entries[i]
        if not entries:
            self._active.pop(group.gid, None)

    def _best_call(self, agent: _Agent) -> _Call | None:
        best: tuple[float, int] | None = None
        best_id = ""
        penalty = self.plan.priority.relaxed_tier
        tiers = self._agent_tier
        for group in self._active.values():
            cache_key = (agent.profile, group.gid)
            tier = tiers.get(cache_key)
            if tier is None:
                tier = tiers[cache_key] = _first_tier(group.tiers, agent.skills)
            if tier < 0:
                continue
            head = group.entries[0]
            score = (head[0] + penalty * tier, head[1])
            if best is None or score < best:
                best, best_id = score, head[2]
        return None if best is None else self._calls[best_id]

    def _head_key(self) -> float | None:
        heads = [g.entries[0][0] for g in self._active.values()]
        return -min(heads) if heads else None


def _first_tier(tiers: Sequence[Dnf], skills: SkillLevels) -> int:
    for tier, dnf in enumerate(tiers):
        if dnf.matches(skills):
            return tier
    return -1


class FullScanRouter(Router):
    """The same decisions without indexes: every search scans all agents or calls.

    The reference the indexed router is tested against, and the benchmark's baseline.
    """

    def _index_add(self, agent: _Agent) -> None:
        pass

    def _index_remove(self, agent: _Agent) -> None:
        pass

    def _queue_add(self, call: _Call) -> None:
        call.entry = (-call.key, call.seq, call.call_id)

    def _queue_remove(self, call: _Call) -> None:
        pass

    def _best_agent(self, tiers: Sequence[Dnf]) -> tuple[_Agent, int] | None:
        best: tuple[int, AgentEntry] | None = None
        for agent in self._agents.values():
            if agent.status is not AgentStatus.READY:
                continue
            assert agent.entry is not None
            for tier, dnf in enumerate(tiers):
                if dnf.matches(agent.skills):
                    if best is None or (tier, agent.entry) < best:
                        best = (tier, agent.entry)
                    break
        return None if best is None else (self._agents[best[1][-1]], best[0])

    def _best_call(self, agent: _Agent) -> _Call | None:
        best: tuple[float, int] | None = None
        best_call: _Call | None = None
        penalty = self.plan.priority.relaxed_tier
        for call in self._waiting_calls():
            tier = _first_tier(call.tiers, agent.skills)
            if tier < 0:
                continue
            score = (-call.key + penalty * tier, call.seq)
            if best is None or score < best:
                best, best_call = score, call
        return best_call

    def _head_key(self) -> float | None:
        keys = [c.key for c in self._waiting_calls()]
        return max(keys) if keys else None

    def _waiting_calls(self) -> Iterator[_Call]:
        return (c for c in self._calls.values() if c.status is CallStatus.WAITING)
