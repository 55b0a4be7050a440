"""The router's part of the call-centre aggregate: waiting callers, offers, estimates.

With a router, callers wait outside app_queue and the core turns the
router's decisions into ``OfferCall``/``WithdrawOffer`` effects.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.core_state import CoreState
from cti.domain.model import AgentState, CallState
from cti.routing import (
    CallAttributes,
    CancelOffer,
    CancelReason,
    NoRouteError,
    Offer,
    PauseAgent,
)

#: Asterisk's DIALSTATUS when the calling side ended the dial before an answer
DIAL_CANCELLED = "CANCEL"


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


class RoutingFlow(CoreState):
    def routing_timer(self, now: float) -> list[fx.Effect]:
        """The timer of the last ``ScheduleRoutingTimer`` fired."""
        self._timer_at = None
        if self.router is not None:
            self._decisions.extend(self.router.on_timer(now))
        return self._routing_effects(now)

    def _call_waiting(self, event: ev.CallWaiting) -> list[fx.Effect]:
        call = self.calls.get(event.call_id)
        if call is None:
            return []
        call.state, call.queue = CallState.QUEUED, event.queue
        self._queue(event.queue)
        if call.queued_at is None:
            call.queued_at = event.at
        if self.router is not None:
            self._route_call_left(call.call_id, event.at)  # a transfer: route it anew
            attributes = call.routing_attributes = routing_attributes(event)
            # no route matches: the caller waits until the dialplan's timeout
            with contextlib.suppress(NoRouteError):
                self._decisions.extend(self.router.call_arrived(call.call_id, attributes, event.at))
        return [fx.PublishCallUpdate(call.snapshot(event.at))]

    def _offer_ringing(self, event: ev.OfferRinging) -> list[fx.Effect]:
        agent_id = self._offered_to(event.call_id)
        call = self.calls.get(event.call_id)
        if agent_id is None or call is None or self._by_interface.get(event.interface) != agent_id:
            return []  # not (or no longer) our offer
        return self._agent_rang(ev.AgentRang(event.call_id, agent_id, call.queue or "", event.at))

    def _offer_answered(self, event: ev.OfferAnswered) -> list[fx.Effect]:
        agent_id = self._by_interface.get(event.interface)
        call = self.calls.get(event.call_id)
        if agent_id is None or call is None:
            return []
        if self.router is not None:
            self._decisions.extend(self.router.offer_answered(event.call_id, agent_id, event.at))
        popped = agent_id in call.rung_agents
        effects = self._call_answered(
            ev.CallAnswered(event.call_id, agent_id, call.queue or "", event.at)
        )
        if not popped:  # its ring was read after the offer was withdrawn: pop on answer
            effects.insert(0, fx.PublishScreenPop(agent_id, call.snapshot(event.at)))
        return effects

    def _offer_failed(self, event: ev.OfferFailed) -> list[fx.Effect]:
        agent_id = self._by_interface.get(event.interface)
        if agent_id is None:
            return []
        effects: list[fx.Effect] = []
        # CANCEL: the caller's side ended the dial (the caller hung up, its Hangup
        # follows and frees the agent), not the agent: no RONA, no new offer of
        # a call that is gone. Should no Hangup follow, the ring timer still acts.
        caller_left = event.status == DIAL_CANCELLED
        if (
            self.router is not None
            and not caller_left
            and self._offered_to(event.call_id) == agent_id
        ):
            self._decisions.extend(self.router.offer_failed(event.call_id, agent_id, event.at))
            # RONA first: the agent is paused before its ring is seen to stop
            effects += self._routing_effects(event.at)
        return effects + self._agent_ring_stopped(
            ev.AgentRingStopped(event.call_id, agent_id, event.at)
        )

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
                case CancelOffer(call_id=call_id, reason=reason):
                    call = self.calls.get(call_id)
                    if call is not None and reason is not CancelReason.CALLER_LEFT and call.channel:
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
