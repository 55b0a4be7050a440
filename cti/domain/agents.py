"""The agents' part of the call-centre aggregate: commands and ringing/talking states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.core_state import AgentCommandRefused, CoreState

__all__ = ["LOGIN_PAUSE_REASON", "WRAP_UP_PAUSE_REASON", "AgentCommandRefused", "AgentFlow"]
from cti.domain.model import Agent, AgentSnapshot, AgentState, CallState

LOGIN_PAUSE_REASON = "login"
WRAP_UP_PAUSE_REASON = "wrap-up"


class AgentFlow(CoreState):
    # ------------------------------------------------------------------ commands
    def register_agent(
        self,
        agent_id: str,
        interface: str,
        queues: Iterable[str],
        wrap_up_s: float = 0.0,
        skills: Mapping[str, int] | None = None,
        at: float = 0.0,
    ) -> None:
        queue_names = tuple(queues)
        for name in queue_names:
            self._queue(name)
        existing = self.agents.get(agent_id)
        if existing is not None:
            self._by_interface.pop(existing.interface, None)
            existing.interface, existing.queues, existing.wrap_up_s = (
                interface,
                queue_names,
                wrap_up_s,
            )
        else:
            self.agents[agent_id] = Agent(agent_id, interface, queue_names, wrap_up_s)
        self._by_interface[interface] = agent_id
        if self.router is not None:
            self._decisions.extend(self.router.set_agent(agent_id, dict(skills or {}), at))

    def login(self, agent_id: str, at: float) -> list[fx.Effect]:
        agent = self._agent(agent_id)
        if agent.state is not AgentState.LOGGED_OUT:
            return [fx.PublishAgentState(agent.snapshot())]
        self._set_agent(agent, AgentState.PAUSED, at, reason=LOGIN_PAUSE_REASON)
        effects: list[fx.Effect] = [
            fx.AddQueueMember(q, agent.agent_id, agent.interface, True, LOGIN_PAUSE_REASON)
            for q in agent.queues
        ]
        effects.append(fx.PublishAgentState(agent.snapshot()))
        return effects + self._routing_effects(at)

    def ready(self, agent_id: str, at: float) -> list[fx.Effect]:
        agent = self._agent(agent_id)
        if agent.state is AgentState.READY:
            return [fx.PublishAgentState(agent.snapshot())]
        if agent.state not in (AgentState.PAUSED, AgentState.WRAP_UP):
            raise AgentCommandRefused(agent_id, f"cannot go ready while {agent.state}")
        self._set_agent(agent, AgentState.READY, at)
        effects: list[fx.Effect] = [
            fx.PauseQueueMember(agent.interface, False, ""),
            fx.PublishAgentState(agent.snapshot()),
        ]
        return effects + self._routing_effects(at)

    def pause(self, agent_id: str, reason: str, at: float) -> list[fx.Effect]:
        agent = self._agent(agent_id)
        if agent.state not in (AgentState.READY, AgentState.PAUSED, AgentState.WRAP_UP):
            raise AgentCommandRefused(agent_id, f"cannot pause while {agent.state}")
        self._set_agent(agent, AgentState.PAUSED, at, reason=reason)
        effects: list[fx.Effect] = [
            fx.PauseQueueMember(agent.interface, True, reason),
            fx.PublishAgentState(agent.snapshot()),
        ]
        return effects + self._routing_effects(at)

    def logout(self, agent_id: str, at: float) -> list[fx.Effect]:
        agent = self._agent(agent_id)
        if agent.state in (AgentState.RINGING, AgentState.TALKING):
            raise AgentCommandRefused(agent_id, f"cannot log out while {agent.state}")
        if agent.state is AgentState.LOGGED_OUT:
            return [fx.PublishAgentState(agent.snapshot())]
        self._set_agent(agent, AgentState.LOGGED_OUT, at)
        effects: list[fx.Effect] = [fx.RemoveQueueMember(q, agent.interface) for q in agent.queues]
        effects.append(fx.PublishAgentState(agent.snapshot()))
        return effects + self._routing_effects(at)

    def end_wrap_up(self, agent_id: str, at: float) -> list[fx.Effect]:
        """The wrap-up timer fired: go ready unless the agent moved on already."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.WRAP_UP or at + 1e-6 < agent.state_since + agent.wrap_up_s:
            return []
        return self.ready(agent_id, at)

    # ------------------------------------------------------------------ events
    def _agent_rang(self, event: ev.AgentRang) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        agent = self.agents.get(event.agent_id)
        if call is None or agent is None:
            return []
        call.state = CallState.RINGING
        call.rung_agents.append(agent.agent_id)
        agent.call_id = call.call_id
        self._set_agent(agent, AgentState.RINGING, event.at, keep_call=True)
        return [
            fx.PublishScreenPop(agent.agent_id, call.snapshot(event.at)),
            fx.PublishAgentState(agent.snapshot()),
        ]

    def _agent_ring_stopped(self, event: ev.AgentRingStopped) -> list[fx.Effect]:
        effects: list[fx.Effect] = []
        agent = self.agents.get(event.agent_id)
        if (
            agent is not None
            and agent.state is AgentState.RINGING
            and agent.call_id == event.call_id
        ):
            self._set_agent(agent, AgentState.READY, event.at)
            effects.append(fx.PublishAgentState(agent.snapshot()))
        call = self.calls.get(event.call_id)
        if call is not None and call.state is CallState.RINGING:
            call.state = CallState.QUEUED
        return effects

    def _agent_finished(self, agent_id: str, call_id: str, at: float) -> list[fx.Effect]:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.TALKING or agent.call_id != call_id:
            return []
        if agent.wrap_up_s <= 0:
            self._set_agent(agent, AgentState.READY, at)
            return [fx.PublishAgentState(agent.snapshot())]
        self._set_agent(agent, AgentState.WRAP_UP, at, reason=WRAP_UP_PAUSE_REASON)
        return [
            fx.PauseQueueMember(agent.interface, True, WRAP_UP_PAUSE_REASON),
            fx.ScheduleWrapUpEnd(agent.agent_id, at + agent.wrap_up_s),
            fx.PublishAgentState(agent.snapshot()),
        ]

    # ------------------------------------------------------------------ views
    def agent_snapshots(self) -> list[AgentSnapshot]:
        return [a.snapshot() for a in self.agents.values()]

    def agent_for_interface(self, interface: str) -> Agent | None:
        for agent in self.agents.values():
            if agent.interface == interface:
                return agent
        return None
