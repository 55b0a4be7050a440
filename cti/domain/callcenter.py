"""The call-centre aggregate: applies domain events and agent commands.

``CallCenter.apply(event)`` and the agent commands return the effects the
adapters must carry out (AMI actions, WebSocket messages, CDR rows). Time is
always passed in (``at``), never read from a clock here.

The aggregate is made of parts, one module each: this one (calls), ``agents``,
``routing_flow`` (the router's decisions), ``callbacks`` (queue call-backs),
``reconcile`` (resync with Asterisk) and ``call_control`` (agents' call
actions); their shared state is ``core_state``.
"""

from __future__ import annotations

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.agents import AgentCommandRefused, AgentFlow
from cti.domain.call_control import TransferKind
from cti.domain.callbacks import CallbackFlow
from cti.domain.core_state import CoreState
from cti.domain.model import (
    AgentState,
    Call,
    CallDetailRecord,
    CallSnapshot,
    CallState,
    Disposition,
    QueueMember,
)
from cti.domain.reconcile import PbxChannel, PbxMember, PbxSnapshot, ReconcileFlow
from cti.domain.routing_flow import QueueEstimate, RoutingFlow, estimated_wait, routing_attributes

__all__ = [
    "AgentCommandRefused",
    "CallCenter",
    "PbxChannel",
    "PbxMember",
    "PbxSnapshot",
    "QueueEstimate",
    "estimated_wait",
    "routing_attributes",
]

HANDLE_SMOOTHING = 0.2  # weight of the newest call in the moving average


class CallCenter(AgentFlow, RoutingFlow, CallbackFlow, ReconcileFlow, CoreState):
    """Calls, agents and queues; with a ``router``, the router picks every agent.

    Without a router, app_queue's own strategy delivers calls and the core
    only follows it. With one, callers wait outside app_queue and the core
    turns the router's decisions into ``OfferCall``/``WithdrawOffer`` effects;
    agents stay members of their queues (paused/unpaused as their state), so
    app_queue can take over if the dialplan finds the CTI gone.
    """

    def transferred(self, agent_id: str, call_id: str, at: float) -> list[fx.Effect]:
        """Asterisk took the agent's blind transfer: the agent's part of the call is
        over (no AgentComplete comes); a call sent to an agent pops on its page
        (the dialplan rings the agent directly, not through a queue)."""
        effects = self.apply(ev.AgentCallCompleted(call_id, agent_id, at))
        transfer = self.control.transfer_of(call_id)
        call = self.calls.get(call_id)
        if call is not None and transfer is not None and transfer.kind is TransferKind.AGENT:
            effects.append(fx.PublishScreenPop(transfer.to, call.snapshot(at)))
        return effects

    def apply(self, event: ev.DomainEvent) -> list[fx.Effect]:
        effects = self._apply(event)
        at = getattr(event, "at", None)
        if self._decisions or (self.router is not None and at is not None):
            effects += self._routing_effects(at if at is not None else self._last_at)
        return effects

    def _apply(self, event: ev.DomainEvent) -> list[fx.Effect]:
        match event:
            case ev.CallStarted():
                return self._call_started(event)
            case ev.IvrPathUpdated(call_id=call_id, path=path):
                call = self.calls.get(call_id)
                if call is not None:
                    call.ivr_path = path
                return []
            case ev.IdentityChecked(call_id=call_id, verified=verified):
                call = self.calls.get(call_id)
                if call is not None:
                    call.verified = verified
                return []
            case ev.SurveyStarted(call_id=call_id, at=at):
                call = self.calls.get(call_id)
                if call is not None and call.answered_at is not None:
                    call.talk_ended_at = at  # the agent hung up; the caller stays on
                return []
            case ev.SurveyAnswered(call_id=call_id, score=score):
                call = self.calls.get(call_id)
                if call is not None:
                    call.survey_score = score
                return []
            case ev.NpsAnswered(call_id=call_id, score=score):
                call = self.calls.get(call_id)
                if call is not None and 0 <= score <= 10:
                    call.nps_score = score
                return []
            case ev.VoicemailRecorded(call_id=call_id, path=path):
                call = self.calls.get(call_id)
                if call is not None:
                    call.voicemail_path = path
                return []
            case ev.IvrTransferred(call_id=call_id, target=target):
                call = self.calls.get(call_id)
                if call is not None:
                    call.transfer_target = target
                return []
            case ev.RecordingStarted(call_id=call_id, path=path):
                call = self.calls.get(call_id)
                if call is not None:
                    call.recording_path = path
                return []
            case ev.CallQueued():
                return self._call_queued(event)
            case ev.AgentRang():
                return self._agent_rang(event)
            case ev.AgentRingStopped():
                return self._agent_ring_stopped(event)
            case ev.CallAnswered():
                return self._call_answered(event)
            case ev.CallAbandoned(call_id=call_id, queue=queue):
                call = self.calls.get(call_id)
                if call is not None:
                    call.abandoned = True
                return []
            case ev.AgentCallCompleted(agent_id=agent_id, at=at):
                return self._agent_finished(agent_id, event.call_id, at)
            case ev.CallEnded():
                if self._keeps_place_for_callback(event.call_id, event.at):
                    call = self.calls[event.call_id]
                    return [fx.PublishCallUpdate(call.snapshot(event.at)), self._save(call)]
                self._route_call_left(event.call_id, event.at)
                return self._call_ended(event.call_id, event.at)
            case ev.CallbackRequested(call_id=call_id, number=number):
                call = self.calls.get(call_id)
                if call is not None and number and self.callback_refusal(number, call_id) is None:
                    call.callback_number = number
                return []
            case ev.CallbackProgress():
                return self._callback_progress(event)
            case ev.CallWaiting():
                return self._call_waiting(event)
            case ev.OfferRinging():
                return self._offer_ringing(event)
            case ev.OfferAnswered():
                return self._offer_answered(event)
            case ev.OfferFailed():
                return self._offer_failed(event)
            case ev.RoutingFallback(call_id=call_id, at=at):
                self._route_call_left(call_id, at)
                return []
            case ev.QueueMemberSeen(queue=queue, agent_id=agent_id):
                self._queue(queue).members[agent_id] = QueueMember(
                    agent_id, event.interface, event.paused
                )
                return []
            case ev.QueueMemberGone(queue=queue, agent_id=agent_id):
                self._queue(queue).members.pop(agent_id, None)
                return []
        return []  # pragma: no cover - exhaustive match

    def _call_started(self, event: ev.CallStarted) -> list[fx.Effect]:
        if event.call_id in self.calls:
            return []
        call = Call(event.call_id, event.channel, event.caller_number, event.caller_name, event.at)
        self.calls[call.call_id] = call
        return [fx.PublishCallUpdate(call.snapshot(event.at))]

    def _call_queued(self, event: ev.CallQueued) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None:
            return []
        call.state, call.queue, call.queued_at = CallState.QUEUED, event.queue, event.at
        self._queue(event.queue)
        return [fx.PublishCallUpdate(call.snapshot(event.at))]

    def _call_answered(self, event: ev.CallAnswered) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None:
            return []
        call.state, call.agent_id, call.answered_at = CallState.TALKING, event.agent_id, event.at
        call.queue = call.queue or event.queue
        effects: list[fx.Effect] = [fx.PublishCallUpdate(call.snapshot(event.at))]
        agent = self.agents.get(event.agent_id)
        if agent is not None:
            agent.call_id = call.call_id
            self._set_agent(agent, AgentState.TALKING, event.at, keep_call=True)
            effects.append(fx.PublishAgentState(agent.snapshot()))
        return effects

    def _call_ended(
        self, call_id: str, at: float, disposition: Disposition | None = None
    ) -> list[fx.Effect]:
        call = self.calls.pop(call_id, None)
        if call is None:
            return []
        self.control.call_ended(call_id)
        call.state, call.ended_at = CallState.ENDED, at
        effects: list[fx.Effect] = []
        # only agents rung for this call or talking on it can hold it (no full scan)
        involved = dict.fromkeys([*call.rung_agents, *([call.agent_id] if call.agent_id else [])])
        for agent_id in involved:
            agent = self.agents.get(agent_id)
            if agent is None or agent.call_id != call_id:
                continue
            if agent.state is AgentState.TALKING:
                effects += self._agent_finished(agent.agent_id, call_id, at)
            elif agent.state is AgentState.RINGING:
                self._set_agent(agent, AgentState.READY, at)
                effects.append(fx.PublishAgentState(agent.snapshot()))
        cdr = CallDetailRecord.of(call, at, disposition)
        if cdr.answered_at is not None and cdr.talk_s > 0:
            wrap = self.agents[cdr.agent_id].wrap_up_s if cdr.agent_id in self.agents else 0.0
            self.handle_s += HANDLE_SMOOTHING * (cdr.talk_s + wrap - self.handle_s)
        effects.append(fx.PublishCallUpdate(call.snapshot(at)))
        effects.append(fx.StoreCdr(cdr))
        return effects

    def waiting_in(self, queue: str) -> list[str]:
        """Callers of ``queue`` not answered yet, first come first (a view of the calls)."""
        waiting = [
            call
            for call in self.calls.values()
            if call.queue == queue and call.state in (CallState.QUEUED, CallState.RINGING)
        ]
        waiting.sort(key=lambda call: call.queued_at if call.queued_at is not None else 0.0)
        return [call.call_id for call in waiting]

    def call_snapshots(self, now: float) -> list[CallSnapshot]:
        return [c.snapshot(now) for c in self.calls.values()]
