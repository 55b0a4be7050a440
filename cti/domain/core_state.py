"""The call-centre aggregate's state, shared by its parts, and the helpers they all use.

The aggregate (:class:`cti.domain.callcenter.CallCenter`) is one object made
of parts, each in its own module: calls (``callcenter``), agents
(``agents``), the router's decisions (``routing_flow``), queue call-backs
(``callbacks``) and the resync with Asterisk (``reconcile``). The methods one
part calls on another are declared here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.call_control import CallControl
from cti.domain.model import Agent, AgentState, Call, CallbackOrder, Disposition, Queue
from cti.routing import AgentStatus as RouterAgentStatus
from cti.routing import Decision, Offer, Router

#: Handle time assumed for wait estimates until calls have been measured.
DEFAULT_HANDLE_S = 180.0


class AgentCommandRefused(Exception):
    """An agent command that the agent's current state does not allow."""

    def __init__(self, agent_id: str, message: str) -> None:
        super().__init__(f"agent {agent_id}: {message}")
        self.agent_id = agent_id
        self.message = message


class CoreState:
    """Calls, agents and queues, the router and the decisions it has not had carried out."""

    def __init__(
        self,
        queues: Iterable[str] = (),
        router: Router | None = None,
        callback_attempts: int = 2,
        callback_order: str = CallbackOrder.AGENT_FIRST,
        callback_customer_ring_s: float = 30.0,
    ) -> None:
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {name: Queue(name) for name in queues}
        self.router = router
        self._decisions: deque[Decision] = deque()
        self._timer_at: float | None = None
        self._last_at = 0.0
        self.handle_s = DEFAULT_HANDLE_S  # moving average of talk + wrap-up
        self.callback_attempts = callback_attempts  # dials of the customer before giving up
        self.callback_order = CallbackOrder(callback_order)
        self.callback_customer_ring_s = callback_customer_ring_s
        self._by_interface: dict[str, str] = {}
        self.control = CallControl(self.calls, self.agents, self.queues)  # agents' call actions

    # ------------------------------------------------------------------ helpers
    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AgentCommandRefused(agent_id, "unknown agent")
        return agent

    def _queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(name)
        return queue

    def _set_agent(
        self,
        agent: Agent,
        state: AgentState,
        at: float,
        *,
        reason: str = "",
        keep_call: bool = False,
    ) -> None:
        agent.state, agent.pause_reason, agent.state_since = state, reason, at
        if not keep_call:
            agent.call_id = None
        self._tell_router(agent, at)

    def _tell_router(self, agent: Agent, at: float) -> None:
        """Keep the router's view of an agent in step with the agent's state."""
        router = self.router
        if router is None:
            return
        if agent.state is AgentState.READY:
            self._decisions.extend(router.agent_ready(agent.agent_id, at))
            return
        if agent.state in (AgentState.RINGING, AgentState.TALKING):
            status = router.agent_status(agent.agent_id)
            if status in (RouterAgentStatus.OFFERED, RouterAgentStatus.BUSY):
                return  # our own offer
        self._decisions.extend(router.agent_not_ready(agent.agent_id, at))

    def _offered_to(self, call_id: str) -> str | None:
        """The agent the router is offering ``call_id`` to (the router's own record)."""
        return None if self.router is None else self.router.offered_to(call_id)

    def _route_call_left(self, call_id: str, at: float) -> None:
        if self.router is not None:
            self._decisions.extend(self.router.call_left(call_id, at))

    def _routed_ids(self, now: float) -> set[str]:
        return set() if self.router is None else {w.call_id for w in self.router.waiting(now)}

    # ------------------------------------------------------------------ other parts
    def _call_ended(
        self, call_id: str, at: float, disposition: Disposition | None = None
    ) -> list[fx.Effect]:
        raise NotImplementedError  # calls (callcenter)

    def _call_answered(self, event: ev.CallAnswered) -> list[fx.Effect]:
        raise NotImplementedError  # calls (callcenter)

    def _agent_rang(self, event: ev.AgentRang) -> list[fx.Effect]:
        raise NotImplementedError  # agents

    def _agent_ring_stopped(self, event: ev.AgentRingStopped) -> list[fx.Effect]:
        raise NotImplementedError  # agents

    def _agent_finished(self, agent_id: str, call_id: str, at: float) -> list[fx.Effect]:
        raise NotImplementedError  # agents

    def _routing_effects(self, at: float) -> list[fx.Effect]:
        raise NotImplementedError  # routing_flow

    def _call_waiting(self, event: ev.CallWaiting) -> list[fx.Effect]:
        raise NotImplementedError  # routing_flow

    def _place_callback(
        self, call: Call, agent_id: str, offer: Offer, at: float
    ) -> list[fx.Effect]:
        raise NotImplementedError  # callbacks
