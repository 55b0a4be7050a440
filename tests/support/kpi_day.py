"""A simulated day of calls played through the real core (no router: the
simulation rings the longest-ready agent itself), with every effect kept.

Used by the tests that compare the live KPIs with the report of the same day.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter
from cti.domain.model import AgentState, CallDetailRecord

QUEUES = ("billing", "technical", "general")
AGENTS = {
    "1001": ("billing", "general"),
    "1002": ("billing",),
    "1003": ("technical", "general"),
    "1004": ("technical", "billing", "general"),
}
DISPOSITIONS = ("resolved", "resolved", "follow_up", "complaint", None)


@dataclass
class Day:
    """What the day produced: effects in order, CDRs and agent dispositions."""

    start: float
    end: float
    effects: list[tuple[float, list[fx.Effect]]] = field(default_factory=list)
    cdrs: list[CallDetailRecord] = field(default_factory=list)
    dispositions: dict[str, str] = field(default_factory=dict)
    disposition_times: list[tuple[float, str, str]] = field(default_factory=list)


def simulate_day(
    day_start: float,
    *,
    seed: int = 7,
    calls: int = 300,
    on_effects: Callable[[float, list[fx.Effect]], None] | None = None,
    on_disposition: Callable[[float, str, str], None] | None = None,
) -> Day:
    rng = random.Random(seed)
    nps_rng = random.Random(seed + 1)  # its own draws: the rest of the day is unchanged
    core = CallCenter(QUEUES)
    for agent_id, queues in AGENTS.items():
        core.register_agent(agent_id, f"PJSIP/agent{agent_id}", queues, wrap_up_s=20.0)
    day = Day(day_start, day_start + 86400)
    heap: list[tuple[float, int, str, Any]] = []
    seq = itertools.count()
    waiting: list[str] = []
    queue_of: dict[str, str] = {}

    def at(t: float, action: str, arg: Any = None) -> None:
        heapq.heappush(heap, (t, next(seq), action, arg))

    def emit(t: float, effects: list[fx.Effect]) -> None:
        day.effects.append((t, effects))
        for effect in effects:
            if isinstance(effect, fx.StoreCdr):
                day.cdrs.append(effect.cdr)
            elif isinstance(effect, fx.ScheduleWrapUpEnd):
                at(effect.at, "wrap_end", effect.agent_id)
        if on_effects is not None:
            on_effects(t, effects)

    def assign(t: float) -> None:
        for call_id in list(waiting):
            ready = [
                a
                for a in core.agents.values()
                if a.state is AgentState.READY and queue_of[call_id] in a.queues
            ]
            if not ready:
                continue
            agent = min(ready, key=lambda a: (a.state_since, a.agent_id))
            waiting.remove(call_id)
            emit(t, core.apply(ev.AgentRang(call_id, agent.agent_id, queue_of[call_id], t)))
            at(t + rng.uniform(1, 6), "answer", (call_id, agent.agent_id))

    # agents: in at 8:00, lunch 12:00-12:30 (one after the other), out at 17:00
    for n, agent_id in enumerate(AGENTS):
        at(day_start + 8 * 3600 + n * 60, "login", agent_id)
        at(day_start + 12 * 3600 + n * 600, "pause", agent_id)
        at(day_start + 12 * 3600 + n * 600 + 1800, "ready", agent_id)
        at(day_start + 17 * 3600 + n * 60, "logout", agent_id)
    numbers = [f"1555010{n:04d}" for n in range(60)]
    for n in range(calls):
        t = day_start + 8 * 3600 + rng.uniform(0, 9 * 3600)
        at(t, "arrive", (f"c{n:04d}", rng.choice(QUEUES), rng.choice([*numbers, ""])))

    while heap:
        t, _, action, arg = heapq.heappop(heap)
        if action == "arrive":
            call_id, queue, number = arg
            queue_of[call_id] = queue
            emit(t, core.apply(ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", number, "", t)))
            emit(t + 5, core.apply(ev.CallQueued(call_id, queue, 1, t + 5)))
            waiting.append(call_id)
            at(t + 5 + rng.choice([2, 4, 8, 20, 40, 90, 300]), "abandon", call_id)
            assign(t + 5)
        elif action == "abandon":
            call = core.calls.get(arg)
            if call is not None and call.answered_at is None and arg in waiting:
                waiting.remove(arg)
                emit(t, core.apply(ev.CallAbandoned(arg, queue_of[arg], t)))
                emit(t, core.apply(ev.CallEnded(arg, t, "Normal")))
        elif action == "answer":
            call_id, agent_id = arg
            if call_id not in core.calls:
                continue
            emit(t, core.apply(ev.CallAnswered(call_id, agent_id, queue_of[call_id], t)))
            code = rng.choice(DISPOSITIONS)
            if code is not None and rng.random() < 0.5:  # given during the call
                day.dispositions[call_id] = code
                day.disposition_times.append((t + 3, call_id, code))
                if on_disposition is not None:
                    on_disposition(t + 3, call_id, code)
            elif code is not None:  # given after the call (in wrap-up)
                day.dispositions[call_id] = code
            at(t + rng.uniform(20, 400), "hangup", (call_id, agent_id, code))
        elif action == "hangup":
            call_id, agent_id, code = arg
            if rng.random() < 0.4:
                emit(t, core.apply(ev.SurveyAnswered(call_id, rng.randint(1, 5))))
                if nps_rng.random() < 0.7:  # the optional 0-10 question
                    emit(t, core.apply(ev.NpsAnswered(call_id, nps_rng.randint(0, 10))))
            emit(t, core.apply(ev.AgentCallCompleted(call_id, agent_id, t)))
            emit(t, core.apply(ev.CallEnded(call_id, t, "Normal")))
            if code is not None and (t + 3, call_id, code) not in day.disposition_times:
                day.disposition_times.append((t + 5, call_id, code))
                at(t + 5, "disposition", (call_id, code))
            assign(t)
        elif action == "disposition":
            call_id, code = arg
            if on_disposition is not None:
                on_disposition(t, call_id, code)
        elif action == "wrap_end":
            emit(t, core.end_wrap_up(arg, t))
            assign(t)
        elif action in ("login", "pause", "ready", "logout"):
            agent = core.agents[arg]
            if action == "login":
                emit(t, core.login(arg, t))
                emit(t, core.ready(arg, t))
            elif agent.state in (AgentState.RINGING, AgentState.TALKING):
                at(t + 30, action, arg)  # after the call
                continue
            elif action == "pause":
                emit(t, core.pause(arg, "lunch", t))
            elif action == "ready":
                emit(t, core.ready(arg, t))
            else:
                emit(t, core.logout(arg, t))
            assign(t)
    return day
