"""The wallboard's board, built from the core's agents and the live KPIs: whole
(for a page that opens) or as the parts a delta needs (only the agents that
changed are built, and occupancies only when asked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cti.domain.model import AgentSnapshot, AgentState
from cti.kpi.live import LiveKpis

if TYPE_CHECKING:
    from cti.kpi.alarms import Alarm, AlarmEngine
    from cti.kpi.calendar import Calendar
    from cti.kpi.options import KpiOptions

INTERVAL_FIELDS = ("start", "label", "offered", "answered", "abandoned", "service_level")
#: an agent's occupancy is shown to 0.1 %
OCCUPANCY_DIGITS = 3
AgentKey = tuple[Any, ...]


def agent_key(agent: AgentSnapshot, name: str, answered: int) -> AgentKey:
    """What an agent's entry shows, its clock fields (time in state, occupancy) aside
    (the count of answered calls last)."""
    return (
        agent.state,
        agent.pause_reason,
        agent.state_since,
        agent.call_id,
        agent.queues,
        name,
        answered,
    )


class BoardBuilder:
    """Builds boards of one wallboard (its live KPIs, alarms and calendar)."""

    def __init__(
        self,
        live: Callable[[], LiveKpis],
        agents: Callable[[], list[AgentSnapshot]],
        queues: Callable[[], list[str]],
        agent_name: Callable[[str], str],
        options: KpiOptions,
        calendar: Calendar,
        timezone: str,
    ) -> None:
        self._live, self._agents, self._queues = live, agents, queues
        self.agent_name, self.options, self.calendar = agent_name, options, calendar
        self.timezone = timezone
        #: each agent's key in the last board built (``parts`` sends those that moved)
        self.keys: dict[str, AgentKey] = {}
        #: every agent as last seen (read from the core for a whole board and when
        #: the clock asks, else kept from the core's effects), by ``agent_id``
        self.snapshots: dict[str, AgentSnapshot] = {}
        self.dirty: set[str] = set()  # agents published since the last board built

    def saw(self, agent: AgentSnapshot) -> None:
        """An agent's state the core published (``PublishAgentState``)."""
        self.snapshots[agent.agent_id] = agent
        self.dirty.add(agent.agent_id)

    def _read_agents(self) -> list[AgentSnapshot]:
        snapshots = sorted(self._agents(), key=lambda a: a.agent_id)
        self.snapshots = {a.agent_id: a for a in snapshots}
        return snapshots

    def whole(
        self, now: float, alarms: AlarmEngine, recent: list[Alarm]
    ) -> tuple[dict[str, Any], dict[str, float | None]]:
        """The whole board at ``now`` and its clock stamps."""
        snapshots = self._read_agents()
        self.dirty.clear()
        board, stamps = self._common(now, snapshots, alarms, recent)
        live = self._live()
        occupancy = live.occupancies(now)
        self.keys = {}
        board["agents"] = [self._agent(a, now, occupancy) for a in snapshots]
        return board, stamps

    def parts(
        self, now: float, alarms: AlarmEngine, recent: list[Alarm], all_occupancy: bool
    ) -> tuple[
        dict[str, Any], list[dict[str, Any]], set[str], dict[str, float | None], dict[str, Any]
    ]:
        """The board at ``now`` without its agents; the entries of the agents that
        changed since the last board built; every agent's id; the clock stamps;
        fresh occupancies (of every agent if ``all_occupancy``, and then every
        agent read from the core again)."""
        if all_occupancy:
            snapshots = self._read_agents()
            candidates = snapshots
        else:
            snapshots = list(self.snapshots.values())
            live = self._live()
            # published, or whose count of answered calls moved
            candidates = [self.snapshots[i] for i in self.dirty if i in self.snapshots]
            keys = self.keys
            for agent_id, counters in live.by_agent.items():
                key = keys.get(agent_id)
                if key is not None and key[-1] != counters.answered and agent_id in self.snapshots:
                    candidates.append(self.snapshots[agent_id])
        self.dirty.clear()
        board, stamps = self._common(now, snapshots, alarms, recent)
        live = self._live()
        moved = []
        seen: set[str] = set()
        for agent in candidates:
            if agent.agent_id in seen:
                continue
            seen.add(agent.agent_id)
            today = live.by_agent.get(agent.agent_id)
            key = agent_key(agent, self.agent_name(agent.agent_id), today.answered if today else 0)
            if self.keys.get(agent.agent_id) != key:
                moved.append(agent)
        moved.sort(key=lambda a: a.agent_id)
        ids = [a.agent_id for a in moved]
        occupancy = live.occupancies(now, None if all_occupancy else ids)
        entries = [self._agent(a, now, occupancy) for a in moved]
        fresh = {k: _rounded(v) for k, v in occupancy.items()} if all_occupancy else {}
        present = {a.agent_id for a in snapshots}
        for gone in set(self.keys) - present:
            del self.keys[gone]
        return board, entries, present, stamps, fresh

    def _agent(
        self, agent: AgentSnapshot, now: float, occupancy: dict[str, float | None]
    ) -> dict[str, Any]:
        today = self._live().by_agent.get(agent.agent_id)
        answered = today.answered if today else 0
        name = self.agent_name(agent.agent_id)
        self.keys[agent.agent_id] = agent_key(agent, name, answered)
        return {
            "agent_id": agent.agent_id,
            "name": name,
            "state": agent.state.value,
            "reason": agent.pause_reason,
            "since_s": round(max(0.0, now - agent.state_since), 1)
            if agent.state is not AgentState.LOGGED_OUT
            else None,
            "call_id": agent.call_id,
            "queues": list(agent.queues),
            "answered_today": answered,
            "occupancy": _rounded(occupancy.get(agent.agent_id)),
        }

    def _common(
        self, now: float, snapshots: list[AgentSnapshot], alarms: AlarmEngine, recent: list[Alarm]
    ) -> tuple[dict[str, Any], dict[str, float | None]]:
        live, options = self._live(), self.options
        names = self._queues()
        counts = {
            name: {s.value: 0 for s in AgentState if s is not AgentState.LOGGED_OUT}
            for name in names
        }
        for member in snapshots:
            if member.state is not AgentState.LOGGED_OUT:
                for name in member.queues:
                    if name in counts:
                        counts[name][member.state.value] += 1
        oldest: dict[str, float] = {}  # queue ("": any) -> when its longest waiting call queued
        for queue, at in live.waiting.values():
            for key in (queue, ""):
                if key not in oldest or at < oldest[key]:
                    oldest[key] = at
        queues = [
            {
                "queue": name,
                "threshold_s": options.threshold_ms(name) / 1000,
                "target": options.target(name),
                "waiting": live.waiting_count(name),
                "longest_wait_s": live.longest_wait_s(now, name),
                "today": live.queue_today(name),
                "window": live.window(now, name),
                "agents": counts[name],
            }
            for name in names
        ]
        board = {
            "at": now,
            "date": self.calendar.date_of(now),
            "timezone": self.timezone,
            "window_s": options.window_s,
            "target": options.service_level.target,
            "total": {
                "waiting": live.waiting_count(),
                "longest_wait_s": live.longest_wait_s(now),
                "today": live.today(),
                "window": live.window(now),
            },
            "queues": queues,
            "intervals": [{k: row[k] for k in INTERVAL_FIELDS} for row in live.intervals()],
            "alarms": [a.as_dict() for a in alarms.active.values()],
            "recent_alarms": [a.as_dict() for a in recent[:20]],
        }
        stamps: dict[str, float | None] = {"queue:" + k: v for k, v in oldest.items()}
        stamps |= {"agent:" + a.agent_id: a.state_since for a in snapshots}
        return board, stamps


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, OCCUPANCY_DIGITS)
