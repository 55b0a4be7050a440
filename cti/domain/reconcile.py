"""The resync part of the call-centre aggregate: match Asterisk after a (re)connect."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.core_state import CoreState
from cti.domain.model import AgentState, Call, CallState, Disposition, QueueMember


@dataclass(frozen=True, slots=True)
class PbxChannel:
    """A caller's call as Asterisk reports it during a resync."""

    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    started_at: float
    queue: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class PbxMember:
    queue: str
    agent_id: str
    interface: str
    paused: bool


@dataclass(frozen=True, slots=True)
class PbxSnapshot:
    """What Asterisk holds right after a (re)connect."""

    calls: tuple[PbxChannel, ...]
    members: tuple[PbxMember, ...]
    queues: tuple[str, ...]
    # callers waiting for our router (not in an app_queue queue), as events
    waiting: tuple[ev.CallWaiting, ...] = ()


class ReconcileFlow(CoreState):
    def reconcile(self, pbx: PbxSnapshot, at: float) -> list[fx.Effect]:
        """Make our view match Asterisk after a (re)connect.

        Calls: Asterisk is the truth (calls that vanished are closed as lost,
        unknown live calls are adopted). Queue membership: the CTI is the truth
        (members Asterisk lacks are re-added, strays are removed).
        """
        effects: list[fx.Effect] = []
        live = {c.call_id: c for c in pbx.calls}
        gone = [cid for cid, c in self.calls.items() if cid not in live and not c.awaiting_callback]
        for call_id in gone:
            effects += self._call_ended(call_id, at, Disposition.LOST)
        for channel in pbx.calls:
            if channel.call_id not in self.calls:
                effects += self._adopt_call(channel, at)
        # once: the router sorts every call for it (offered ones included)
        routed = self._routed_ids(at)
        for waiting in pbx.waiting:
            call = self.calls.get(waiting.call_id)
            if call is not None and call.call_id not in routed:
                effects += self._call_waiting(waiting)
        for name in pbx.queues:
            self._queue(name).members.clear()
        for queue in self.queues.values():
            queue.members.clear()
        for member in pbx.members:
            self._queue(member.queue).members[member.agent_id] = QueueMember(
                member.agent_id, member.interface, member.paused
            )
        effects += self._reconcile_members(pbx.members)
        return effects + self._routing_effects(at)

    def _adopt_call(self, channel: PbxChannel, at: float) -> list[fx.Effect]:
        call = Call(
            channel.call_id,
            channel.channel,
            channel.caller_number,
            channel.caller_name,
            channel.started_at,
        )
        self.calls[call.call_id] = call
        if channel.queue is not None:
            call.state, call.queue, call.queued_at = CallState.QUEUED, channel.queue, at
            self._queue(channel.queue)
        if channel.agent_id is not None:
            call.state, call.agent_id, call.answered_at = CallState.TALKING, channel.agent_id, at
            agent = self.agents.get(channel.agent_id)
            if agent is not None and agent.state is not AgentState.LOGGED_OUT:
                agent.call_id = call.call_id
                self._set_agent(agent, AgentState.TALKING, at, keep_call=True)
        return [fx.PublishCallUpdate(call.snapshot(at))]

    def _reconcile_members(self, members: Iterable[PbxMember]) -> list[fx.Effect]:
        effects: list[fx.Effect] = []
        present = {(m.queue, m.agent_id): m for m in members}
        wanted: set[tuple[str, str]] = set()
        for agent in self.agents.values():
            if agent.state is AgentState.LOGGED_OUT:
                continue
            paused = agent.state in (AgentState.PAUSED, AgentState.WRAP_UP)
            for queue in agent.queues:
                wanted.add((queue, agent.agent_id))
                member = present.get((queue, agent.agent_id))
                if member is None:
                    effects.append(
                        fx.AddQueueMember(
                            queue, agent.agent_id, agent.interface, paused, agent.pause_reason
                        )
                    )
                elif member.paused != paused:
                    effects.append(fx.PauseQueueMember(agent.interface, paused, agent.pause_reason))
        for key, member in present.items():
            if key not in wanted:
                effects.append(fx.RemoveQueueMember(member.queue, member.interface))
        return effects
