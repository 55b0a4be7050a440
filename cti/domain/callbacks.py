"""The queue call-backs' part of the call-centre aggregate.

A caller who asked for a call-back and hung up keeps its place; when its turn
comes, the agent and the customer are dialled (``PlaceCallback``), tries that
fail go back in line until the attempts are used up. Pending call-backs are
saved (``SaveCallback``) and restored after a restart of the CTI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.core_state import CoreState
from cti.domain.model import (
    Call,
    CallbackOrder,
    CallbackState,
    CallState,
    Disposition,
    PendingCallback,
)
from cti.routing import CallAttributes, NoRouteError, Offer


class CallbackFlow(CoreState):
    def _keeps_place_for_callback(self, call_id: str, at: float) -> bool:
        """The caller who asked for a call-back hung up: the call keeps its place."""
        call = self.calls.get(call_id)
        if (
            call is None
            or not call.callback_number
            or call.awaiting_callback
            or call.answered_at is not None
            or self.router is None
            or self._offered_to(call_id) is not None  # being offered: too late for a call-back
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
        language = attributes.language if attributes is not None else "en"
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
        if self.callback_order is CallbackOrder.CUSTOMER_FIRST:
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
        offered = self._offered_to(call.call_id) == agent_id
        at = event.at
        state = event.state
        if state == CallbackState.AGENT_ANSWERED:
            if not offered:
                return []  # a stale offer; the dialplan of that leg will find no customer
            if self.router is not None:
                self._decisions.extend(self.router.offer_answered(call.call_id, agent_id, at))
            answered = ev.CallAnswered(call.call_id, agent_id, call.queue or "", at)
            return self._call_answered(answered)
        if state == CallbackState.AGENT_RINGING:  # customer first: the agent rings now
            if not offered:
                return []
            return self._agent_rang(ev.AgentRang(call.call_id, agent_id, call.queue or "", at))
        if state == CallbackState.CUSTOMER_ANSWERED:
            return []
        if state in (CallbackState.CUSTOMER_FAILED, CallbackState.CUSTOMER_LEFT):
            # not the agent's fault: the agent is free again, the call-back
            # goes back in line for another attempt (or gives up)
            if not offered:
                return []
            call.callback_attempts += 1
            self._route_call_left(call.call_id, at)
            effects = self._agent_ring_stopped(ev.AgentRingStopped(call.call_id, agent_id, at))
            return effects + self._callback_again_or_give_up(call, state.value, at)
        if state == CallbackState.AGENT_FAILED:
            if not offered:
                return []
            effects = []
            if self.callback_order is CallbackOrder.CUSTOMER_FIRST:
                # the customer was on the line and has been told; that was a try
                call.callback_attempts += 1
                if call.callback_attempts >= self.callback_attempts:
                    self._route_call_left(call.call_id, at)
                    effects += self._agent_ring_stopped(
                        ev.AgentRingStopped(call.call_id, agent_id, at)
                    )
                    return effects + self._callback_again_or_give_up(call, state.value, at)
            effects.append(self._save(call))  # the customer was not dialled (or told)
            if self.router is not None:
                self._decisions.extend(self.router.offer_failed(call.call_id, agent_id, at))
                effects += self._routing_effects(at)
            return effects + self._agent_ring_stopped(
                ev.AgentRingStopped(call.call_id, agent_id, at)
            )
        # the customer's leg ended (CallbackState.ENDED): talked, or the dial failed
        talker = call.agent_id
        if talker != agent_id:
            return []
        if event.dial_status == "ANSWER":
            call.callback_outcome = "answered"
            return self._call_ended(call.call_id, at)
        call.callback_attempts += 1
        effects = self._agent_finished(talker, call.call_id, at) if talker else []
        return effects + self._callback_again_or_give_up(call, event.dial_status, at)

    def _callback_again_or_give_up(self, call: Call, reason: str, at: float) -> list[fx.Effect]:
        """After a failed try: back in line (its old place: it has waited its
        turn), or, with the attempts used up, the end of the call
        (``callback_outcome`` "failed:<reason of the last try>")."""
        call.answered_at, call.agent_id = None, None
        if call.callback_attempts >= self.callback_attempts or self.router is None:
            call.callback_outcome = f"failed:{reason.lower()}"
            return self._call_ended(call.call_id, at, Disposition.ABANDONED)
        call.state = CallState.QUEUED
        attributes = call.routing_attributes
        if attributes is not None:
            with contextlib.suppress(NoRouteError, ValueError):
                self._decisions.extend(
                    self.router.call_arrived(call.call_id, attributes, call.queued_at or at)
                )
        return [self._save(call)]

    def _save(self, call: Call, *, in_flight: bool = False) -> fx.SaveCallback:
        attributes = call.routing_attributes or CallAttributes("en", call.queue or "general")
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
            self._queue(item.queue)
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
