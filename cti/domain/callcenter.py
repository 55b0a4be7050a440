"""The call-centre aggregate: applies domain events and agent commands.

``CallCenter.apply(event)`` and the agent commands return the effects the
adapters must carry out (AMI actions, WebSocket messages, CDR rows). Time is
always passed in (``at``), never read from a clock here.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callback_policy import CallbackPolicy
from cti.domain.model import (
    Agent,
    AgentSnapshot,
    AgentState,
    Call,
    CallDetailRecord,
    CallSnapshot,
    CallState,
    Disposition,
    PendingCallback,
    Queue,
    QueueMember,
)
from cti.routing import (
    AgentStatus as RouterAgentStatus,
)
from cti.routing import (
    CallAttributes,
    CancelOffer,
    Decision,
    NoRouteError,
    Offer,
    PauseAgent,
    Router,
)

LOGIN_PAUSE_REASON = "login"
#: Handle time assumed for wait estimates until calls have been measured.
DEFAULT_HANDLE_S = 180.0
HANDLE_SMOOTHING = 0.2  # weight of the newest call in the moving average
WRAP_UP_PAUSE_REASON = "wrap-up"


class AgentCommandRefused(Exception):
    """An agent command that the agent's current state does not allow."""

    def __init__(self, agent_id: str, message: str) -> None:
        super().__init__(f"agent {agent_id}: {message}")
        self.agent_id = agent_id
        self.message = message


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


@dataclass(frozen=True, slots=True)
class QueueEstimate:
    """What a waiting caller is told: place in line and the expected wait."""

    position: int  # 1 = next to be served
    waiting: int  # callers waiting in all
    wait_s: float


def estimated_wait(position: int, staffed: int, handle_s: float) -> float:
    """Expected wait of the caller at ``position``: each staffed agent frees up
    once per handle time on average, so the callers ahead are served at
    ``staffed / handle_s`` per second. With nobody staffed, one agent is assumed
    (the caller is still told a finite wait)."""
    return max(0, position) * handle_s / max(1, staffed)


@dataclass(frozen=True, slots=True)
class PbxSnapshot:
    """What Asterisk holds right after a (re)connect."""

    calls: tuple[PbxChannel, ...]
    members: tuple[PbxMember, ...]
    queues: tuple[str, ...]
    # callers waiting for our router (not in an app_queue queue), as events
    waiting: tuple[ev.CallWaiting, ...] = ()


class CallCenter:
    """Calls, agents and queues; with a ``router``, the router picks every agent.

    Without a router, app_queue's own strategy delivers calls and the core
    only follows it. With one, callers wait outside app_queue and the core
    turns the router's decisions into ``OfferCall``/``WithdrawOffer`` effects;
    agents stay members of their queues (paused/unpaused as their state), so
    app_queue can take over if the dialplan finds the CTI gone.
    """

    def __init__(
        self,
        queues: Iterable[str] = (),
        router: Router | None = None,
        callback_attempts: int = 2,
        callback_order: str = "agent-first",
        callback_customer_ring_s: float = 30.0,
        callback_policy: CallbackPolicy | None = None,
    ) -> None:
        self.calls: dict[str, Call] = {}
        # which numbers a call-back may dial (None: not checked, for tests of the core)
        self.callback_policy = callback_policy
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {name: Queue(name) for name in queues}
        self.router = router
        self.offers: dict[str, str] = {}  # call id -> agent id the router offered it to
        self._decisions: deque[Decision] = deque()
        self._timer_at: float | None = None
        self._last_at = 0.0
        self.handle_s = DEFAULT_HANDLE_S  # moving average of talk + wrap-up
        self.callback_attempts = callback_attempts  # dials of the customer before giving up
        self.callback_order = callback_order  # agent-first | customer-first
        self.callback_customer_ring_s = callback_customer_ring_s
        self._by_interface: dict[str, str] = {}

    # ------------------------------------------------------------------ agents
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
    def apply(self, event: ev.DomainEvent) -> list[fx.Effect]:
        effects = self._apply(event)
        at = getattr(event, "at", None)
        if self._decisions or (self.router is not None and at is not None):
            effects += self._routing_effects(at if at is not None else self._last_at)
        return effects

    def routing_timer(self, now: float) -> list[fx.Effect]:
        """The timer of the last ``ScheduleRoutingTimer`` fired."""
        self._timer_at = None
        if self.router is not None:
            self._decisions.extend(self.router.on_timer(now))
        return self._routing_effects(now)

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
                self._leave_queue(call_id, queue)
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

    # ------------------------------------------------------------------ routing
    def _call_waiting(self, event: ev.CallWaiting) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None:
            return []
        if call.queue is not None and call.queue != event.queue:
            self._leave_queue(call.call_id, call.queue)
        call.state, call.queue = CallState.QUEUED, event.queue
        if call.queued_at is None:
            call.queued_at = event.at
        waiting = self._queue(event.queue).waiting
        if call.call_id not in waiting:
            waiting.append(call.call_id)
        if self.router is not None:
            self._route_call_left(call.call_id, event.at)  # a transfer: route it anew
            call.routing_attributes = routing_attributes(event)
            # no route matches: the caller waits until the dialplan's timeout
            with contextlib.suppress(NoRouteError):
                self._decisions.extend(
                    self.router.call_arrived(call.call_id, call.routing_attributes, event.at)
                )
        return [fx.PublishCallUpdate(call.snapshot(event.at))]

    def _offer_ringing(self, event: ev.OfferRinging) -> list[fx.Effect]:
        agent_id = self.offers.get(event.call_id)
        call = self.calls.get(event.call_id)
        if agent_id is None or call is None or self._by_interface.get(event.interface) != agent_id:
            return []  # not (or no longer) our offer
        return self._agent_rang(ev.AgentRang(event.call_id, agent_id, call.queue or "", event.at))

    def _offer_answered(self, event: ev.OfferAnswered) -> list[fx.Effect]:
        agent_id = self._by_interface.get(event.interface)
        call = self.calls.get(event.call_id)
        if agent_id is None or call is None:
            return []
        if self.offers.get(event.call_id) == agent_id:
            del self.offers[event.call_id]
        if self.router is not None:
            self._decisions.extend(self.router.offer_answered(event.call_id, agent_id, event.at))
        return self._call_answered(
            ev.CallAnswered(event.call_id, agent_id, call.queue or "", event.at)
        )

    def _offer_failed(self, event: ev.OfferFailed) -> list[fx.Effect]:
        agent_id = self._by_interface.get(event.interface)
        if agent_id is None:
            return []
        effects: list[fx.Effect] = []
        if self.offers.get(event.call_id) == agent_id:
            del self.offers[event.call_id]
            if self.router is not None:
                self._decisions.extend(self.router.offer_failed(event.call_id, agent_id, event.at))
                # RONA first: the agent is paused before its ring is seen to stop
                effects += self._routing_effects(event.at)
        return effects + self._agent_ring_stopped(
            ev.AgentRingStopped(event.call_id, agent_id, event.at)
        )

    # ------------------------------------------------------------------ call-backs
    def pending_callback_numbers(self, but: str = "") -> list[str]:
        """Numbers of the call-backs asked for and not finished (except call ``but``)."""
        return [
            c.callback_number for c in self.calls.values() if c.callback_number and c.call_id != but
        ]

    def callback_refusal(self, number: str, call_id: str = "") -> str | None:
        """Why the policy refuses a call-back to ``number`` now; None: accepted."""
        policy = self.callback_policy
        if policy is None:
            return None
        return policy.refusal(number, self.pending_callback_numbers(but=call_id))

    def _keeps_place_for_callback(self, call_id: str, at: float) -> bool:
        """The caller who asked for a call-back hung up: the call keeps its place."""
        call = self.calls.get(call_id)
        if (
            call is None
            or not call.callback_number
            or call.awaiting_callback
            or call.answered_at is not None
            or self.router is None
            or call_id in self.offers  # being offered right now: too late for a call-back
            or call_id not in self._routed_ids(at)
        ):
            return False
        call.awaiting_callback, call.channel = True, ""
        return True

    def _place_callback(
        self, call: Call, agent_id: str, offer: Offer, at: float
    ) -> list[fx.Effect]:
        agent = self.agents[agent_id]
        attributes = call.routing_attributes
        language = attributes.language if isinstance(attributes, CallAttributes) else "en"
        place = fx.PlaceCallback(
            call.call_id,
            call.callback_number or "",
            agent_id,
            agent.interface,
            offer.ring_timeout_s,
            self.callback_order,
            self.callback_customer_ring_s,
            language,
        )
        saved = self._save(call, in_flight=True)  # stored before the try is placed
        if self.callback_order == "customer-first":
            # the agent is rung only once the customer answered: the ring
            # timeout counts from then, so the offer's deadline moves on
            if self.router is not None:
                deadline = at + self.callback_customer_ring_s + offer.ring_timeout_s + 3.0
                self.router.extend_offer(call.call_id, agent_id, deadline)
            return [saved, place]
        # agent first: the agent's phone rings at once: pop the call now
        return [
            saved,
            place,
            *self._agent_rang(ev.AgentRang(call.call_id, agent_id, call.queue or "", at)),
        ]

    def _callback_progress(self, event: ev.CallbackProgress) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None or not call.awaiting_callback:
            return []
        agent_id = event.agent_id
        offered = self.offers.get(call.call_id) == agent_id
        at = event.at
        if event.state == "agent-answered":
            if not offered:
                return []  # a stale offer; the dialplan of that leg will find no customer
            del self.offers[call.call_id]
            if self.router is not None:
                self._decisions.extend(self.router.offer_answered(call.call_id, agent_id, at))
            answered = ev.CallAnswered(call.call_id, agent_id, call.queue or "", at)
            return self._call_answered(answered)
        if event.state == "agent-ringing":  # customer first: the agent rings now
            if not offered:
                return []
            return self._agent_rang(ev.AgentRang(call.call_id, agent_id, call.queue or "", at))
        if event.state == "customer-answered":
            return []
        if event.state in ("customer-failed", "customer-left"):
            # not the agent's fault: the agent is free again, the call-back
            # goes back in line for another attempt (or gives up)
            if not offered:
                return []
            call.callback_attempts += 1
            self._route_call_left(call.call_id, at)
            effects = self._agent_ring_stopped(ev.AgentRingStopped(call.call_id, agent_id, at))
            return effects + self._callback_again_or_give_up(call, event.state, at)
        if event.state == "agent-failed":
            if not offered:
                return []
            del self.offers[call.call_id]
            effects = []
            if self.callback_order == "customer-first":
                # the customer was on the line and has been told; that was a try
                call.callback_attempts += 1
                if call.callback_attempts >= self.callback_attempts:
                    self._route_call_left(call.call_id, at)
                    effects += self._agent_ring_stopped(
                        ev.AgentRingStopped(call.call_id, agent_id, at)
                    )
                    return effects + self._callback_again_or_give_up(call, "agent-failed", at)
            effects.append(self._save(call))  # the customer was not dialled (or told)
            if self.router is not None:
                self._decisions.extend(self.router.offer_failed(call.call_id, agent_id, at))
                effects += self._routing_effects(at)
            return effects + self._agent_ring_stopped(
                ev.AgentRingStopped(call.call_id, agent_id, at)
            )
        # the customer's leg ended: talked, or the dial failed
        talker = call.agent_id
        if talker != agent_id:
            return []
        if event.state == "ANSWER":
            call.callback_outcome = "answered"
            return self._call_ended(call.call_id, at)
        call.callback_attempts += 1
        effects = self._agent_finished(talker, call.call_id, at) if talker else []
        return effects + self._callback_again_or_give_up(call, event.state, at)

    def _callback_again_or_give_up(self, call: Call, state: str, at: float) -> list[fx.Effect]:
        """After a failed try: back in line (its old place: it has waited its
        turn), or, with the attempts used up, the end of the call."""
        call.answered_at, call.agent_id = None, None
        if call.callback_attempts >= self.callback_attempts or self.router is None:
            call.callback_outcome = f"failed:{state.lower()}"
            return self._call_ended(call.call_id, at, Disposition.ABANDONED)
        call.state = CallState.QUEUED
        attributes = call.routing_attributes
        if isinstance(attributes, CallAttributes):
            with contextlib.suppress(NoRouteError, ValueError):
                self._decisions.extend(
                    self.router.call_arrived(call.call_id, attributes, call.queued_at or at)
                )
        return [self._save(call)]

    def _save(self, call: Call, *, in_flight: bool = False) -> fx.SaveCallback:
        attributes = call.routing_attributes
        if not isinstance(attributes, CallAttributes):
            attributes = CallAttributes("en", call.queue or "general")
        return fx.SaveCallback(
            PendingCallback(
                call_id=call.call_id,
                caller_number=call.caller_number,
                caller_name=call.caller_name,
                callback_number=call.callback_number or "",
                ivr_path=call.ivr_path,
                queue=call.queue or "general",
                entered_at=call.started_at,
                queued_at=call.queued_at if call.queued_at is not None else call.started_at,
                language=attributes.language,
                product=attributes.product,
                tier=attributes.tier,
                urgency=attributes.urgency,
                verified=call.verified,
                recording_path=call.recording_path,
                attempts=call.callback_attempts,
                in_flight=in_flight,
            )
        )

    def restore_callbacks(
        self,
        pending: Iterable[PendingCallback],
        at: float,
        talked: Mapping[str, tuple[str, float, float]] | None = None,
    ) -> list[fx.Effect]:
        """After a restart of the CTI: the call-backs promised and not made yet
        wait again, in their old place (arrival time ``queued_at``).

        A try that was under way when the CTI stopped (``in_flight``; its legs
        gone from Asterisk) either reached the customer, as ``talked`` tells
        (call id -> agent id, answered at, ended at, from Asterisk's CDRs): the
        call is over; or it did not: it counts as a failed try.
        """
        talked = talked or {}
        effects: list[fx.Effect] = []
        for item in pending:
            if item.call_id in self.calls:
                continue
            call = Call(
                item.call_id,
                "",
                item.caller_number,
                item.caller_name,
                item.entered_at,
                state=CallState.QUEUED,
                ivr_path=item.ivr_path,
                queue=item.queue,
                queued_at=item.queued_at,
                recording_path=item.recording_path,
                verified=item.verified,
                callback_number=item.callback_number,
                awaiting_callback=True,
                callback_attempts=item.attempts,
            )
            try:
                call.routing_attributes = CallAttributes(
                    item.language, item.product, tier=item.tier, urgency=item.urgency
                )
            except ValueError:
                call.routing_attributes = CallAttributes("en", item.queue)
            self.calls[call.call_id] = call
            self._queue(item.queue).waiting.append(call.call_id)
            policy = self.callback_policy
            refused = policy.number_refusal(item.callback_number) if policy else None
            if refused is not None and not (item.in_flight and item.call_id in talked):
                # kept from before a policy change: never dialled, closed with its CDR
                call.callback_outcome = f"refused:{refused}"
                effects += self._call_ended(call.call_id, at, Disposition.ABANDONED)
                continue
            if item.in_flight and item.call_id in talked:
                agent_id, answered_at, ended_at = talked[item.call_id]
                call.agent_id, call.answered_at = agent_id, answered_at
                call.callback_outcome = "answered"
                effects += self._call_ended(call.call_id, ended_at)
                continue
            if item.in_flight:
                call.callback_attempts += 1
            effects += self._callback_again_or_give_up(call, "unknown", at)
        return effects + self._routing_effects(at)

    def _route_call_left(self, call_id: str, at: float) -> None:
        self.offers.pop(call_id, None)
        if self.router is not None:
            self._decisions.extend(self.router.call_left(call_id, at))

    def _routing_effects(self, at: float) -> list[fx.Effect]:
        """Carry out the router's pending decisions; arm its next timer."""
        self._last_at = at
        effects: list[fx.Effect] = []
        while self._decisions:
            decision = self._decisions.popleft()
            match decision:
                case Offer(call_id=call_id, agent_id=agent_id):
                    call, agent = self.calls.get(call_id), self.agents.get(agent_id)
                    if call is None or agent is None:  # pragma: no cover - router/core agree
                        continue
                    self.offers[call_id] = agent_id
                    if call.awaiting_callback and call.callback_number:
                        effects += self._place_callback(call, agent_id, decision, at)
                        continue
                    effects.append(
                        fx.OfferCall(
                            call_id,
                            call.channel,
                            agent_id,
                            agent.interface,
                            decision.ring_timeout_s,
                        )
                    )
                case CancelOffer(call_id=call_id, agent_id=agent_id, reason=reason):
                    if self.offers.get(call_id) == agent_id:
                        del self.offers[call_id]
                    call = self.calls.get(call_id)
                    if call is not None and reason != "caller-left" and call.channel:
                        effects.append(fx.WithdrawOffer(call_id, call.channel))
                case PauseAgent(agent_id=agent_id, reason=reason):
                    agent = self.agents.get(agent_id)
                    if agent is None or agent.state is AgentState.LOGGED_OUT:
                        continue
                    self._set_agent(agent, AgentState.PAUSED, at, reason=reason)
                    effects.append(fx.PauseQueueMember(agent.interface, True, reason))
                    effects.append(fx.PublishAgentState(agent.snapshot()))
                case _:
                    pass  # Relaxed / Overflowed: information only
        # a call withdrawn and offered again in one go: the offer's redirect
        # moves the caller straight on (two redirects in a row race in Asterisk)
        reoffered = {e.call_id for e in effects if isinstance(e, fx.OfferCall)}
        effects = [
            e for e in effects if not (isinstance(e, fx.WithdrawOffer) and e.call_id in reoffered)
        ]
        if self.router is not None:
            deadline = self.router.next_deadline()
            if deadline is not None and deadline != self._timer_at:
                effects.append(fx.ScheduleRoutingTimer(deadline))
            self._timer_at = deadline
        return effects

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

    def queue_estimate(self, call_id: str, now: float) -> QueueEstimate | None:
        """Place in line and expected wait of a caller waiting for the router."""
        place = self.waiting_position(call_id, now)
        if place is None:
            return None
        staffed = sum(
            1
            for a in self.agents.values()
            if a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        )
        position, waiting = place
        return QueueEstimate(position, waiting, estimated_wait(position, staffed, self.handle_s))

    def waiting_position(self, call_id: str, now: float) -> tuple[int, int] | None:
        """(1-based place in the router's serving order, calls waiting), or None."""
        if self.router is None:
            return None
        order = [w.call_id for w in self.router.waiting(now)]
        if call_id not in order:
            return None
        return order.index(call_id) + 1, len(order)

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
        waiting = self._queue(event.queue).waiting
        if call.call_id not in waiting:
            waiting.append(call.call_id)
        return [fx.PublishCallUpdate(call.snapshot(event.at))]

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

    def _call_answered(self, event: ev.CallAnswered) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None:
            return []
        call.state, call.agent_id, call.answered_at = CallState.TALKING, event.agent_id, event.at
        call.queue = call.queue or event.queue
        self._leave_queue(call.call_id, event.queue)
        effects: list[fx.Effect] = [fx.PublishCallUpdate(call.snapshot(event.at))]
        agent = self.agents.get(event.agent_id)
        if agent is not None:
            agent.call_id = call.call_id
            self._set_agent(agent, AgentState.TALKING, event.at, keep_call=True)
            effects.append(fx.PublishAgentState(agent.snapshot()))
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

    def _call_ended(
        self, call_id: str, at: float, disposition: Disposition | None = None
    ) -> list[fx.Effect]:
        call = self.calls.pop(call_id, None)
        if call is None:
            return []
        call.state, call.ended_at = CallState.ENDED, at
        if call.queue is not None:
            self._leave_queue(call_id, call.queue)
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

    # ------------------------------------------------------------------ resync
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
        routed = self._routed_ids(at)  # once: the router sorts every call for it
        for waiting in pbx.waiting:
            call = self.calls.get(waiting.call_id)
            if call is not None and call.call_id not in self.offers and call.call_id not in routed:
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

    def _routed_ids(self, now: float) -> set[str]:
        return set() if self.router is None else {w.call_id for w in self.router.waiting(now)}

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
            self._queue(channel.queue).waiting.append(call.call_id)
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

    # ------------------------------------------------------------------ views
    def agent_snapshots(self) -> list[AgentSnapshot]:
        return [a.snapshot() for a in self.agents.values()]

    def call_snapshots(self, now: float) -> list[CallSnapshot]:
        return [c.snapshot(now) for c in self.calls.values()]

    def agent_for_interface(self, interface: str) -> Agent | None:
        for agent in self.agents.values():
            if agent.interface == interface:
                return agent
        return None

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

    def _leave_queue(self, call_id: str, queue: str) -> None:
        waiting = self._queue(queue).waiting
        if call_id in waiting:
            waiting.remove(call_id)

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


def routing_attributes(event: ev.CallWaiting) -> CallAttributes:
    """The router's view of a waiting call; unknown or odd values fall back to defaults."""
    urgency = event.urgency if event.urgency in (1, 2, 3) else 3
    try:
        return CallAttributes(
            event.language or "en",
            event.product or event.queue or "general",
            tier=event.tier or "standard",
            urgency=urgency,
        )
    except ValueError:
        return CallAttributes("en", "general", urgency=urgency)
