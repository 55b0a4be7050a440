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
    # what the call carries in Asterisk (channel variables): kept when adopted
    ivr_path: str = ""
    chosen_queue: str | None = None
    recording_path: str | None = None


@dataclass(frozen=True, slots=True)
class PbxMember:
    queue: str
    agent_id: str
    interface: str
    paused: bool
    reason: str = ""  # Asterisk's PausedReason


@dataclass(frozen=True, slots=True)
class PbxSnapshot:
    """What Asterisk holds right after a (re)connect."""

    calls: tuple[PbxChannel, ...]
    members: tuple[PbxMember, ...]
    queues: tuple[str, ...]
    # callers waiting for our router (not in an app_queue queue), as events
    waiting: tuple[ev.CallWaiting, ...] = ()


class ReconcileFlow(CoreState):
    def reconcile(
        self, pbx: PbxSnapshot, at: float, *, adopt_members: bool = False
    ) -> list[fx.Effect]:
        """Make our view match Asterisk after a (re)connect.

        Calls: Asterisk is the truth (calls that vanished are closed as lost,
        unknown live calls are adopted). Queue membership: the CTI is the truth
        (members Asterisk lacks are re-added, strays are removed), except with
        ``adopt_members`` (the first sync of a CTI that restarted, e.g. after a
        crash, and knows no agent yet): an agent logged out here but a member
        in Asterisk is taken as logged in, ready or paused as Asterisk has it.
        """
        effects: list[fx.Effect] = []
        if adopt_members:
            effects += self._adopt_members(pbx.members, at)
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
        call.ivr_path, call.recording_path = channel.ivr_path, channel.recording_path
        call.queue = channel.chosen_queue  # the IVR's choice, until app_queue says otherwise
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

    def _adopt_members(self, members: Iterable[PbxMember], at: float) -> list[fx.Effect]:
        effects: list[fx.Effect] = []
        found: dict[str, list[PbxMember]] = {}
        for member in members:
            found.setdefault(member.agent_id, []).append(member)
        for agent_id, held in found.items():
            agent = self.agents.get(agent_id)
            if agent is None or agent.state is not AgentState.LOGGED_OUT:
                continue
            paused = next((m for m in held if m.paused), None)
            if paused is None:
                self._set_agent(agent, AgentState.READY, at)
            else:
                self._set_agent(agent, AgentState.PAUSED, at, reason=paused.reason or "resync")
            effects.append(fx.PublishAgentState(agent.snapshot()))
        return effects

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
