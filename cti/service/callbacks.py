"""Placing a queue call-back: an async Originate, matched back by its channel id."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

from cti import dialplan
from cti.ami.client import AmiError
from cti.ami.translate import callback_channel_id
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.model import CallbackOrder, CallbackState
from cti.service.pbx_actions import PbxActions
from cti.service.records import Records

log = logging.getLogger(__name__)


class CallbackDialer:
    def __init__(
        self,
        trunk_host: str,
        actions: PbxActions,
        records: Records,
        apply: Callable[[ev.DomainEvent], None],
        clock: Callable[[], float],
    ) -> None:
        self.trunk_host, self.actions, self.records = trunk_host, actions, records
        self.apply, self.clock = apply, clock
        # try numbers in call-back channel ids: unique across restarts too
        self._ids = itertools.count(int(time.time()))

    async def place(self, effect: fx.PlaceCallback) -> None:
        """Agent first: the agent is rung (1 s less than the router's ring
        timeout, so a ring-out is always reported by Asterisk first and an
        agent never answers a withdrawn offer), then ``[hotline-callback]``
        dials the customer through the trunk. Customer first: the customer is
        dialled through the trunk, then ``[hotline-callback-customer]`` rings
        the agent.
        """
        # the database knows this try is under way before the phone rings: a
        # restart in between looks the try up instead of calling twice
        await self.records.callback_saved(effect.call_id)
        ring_s = max(1.0, effect.ring_timeout_s - 1.0)
        customer_first = effect.order == CallbackOrder.CUSTOMER_FIRST
        first = "customer" if customer_first else "agent"
        variables = {
            dialplan.CALLBACK_OF: effect.call_id,
            dialplan.CALLBACK_AGENT: effect.agent_id,
            dialplan.CALLBACK_NUMBER: effect.number,
            dialplan.CALLBACK_INTERFACE: effect.interface,
            dialplan.CALLBACK_RING: str(round(ring_s)),
            dialplan.CALLBACK_LANGUAGE: effect.language,
        }
        trunk = self.trunk_host
        if customer_first:
            channel = f"PJSIP/trunk/sip:{effect.number}@{trunk}"
            context, timeout_s = dialplan.CALLBACK_CUSTOMER_CONTEXT, effect.customer_ring_s
        else:
            channel, context, timeout_s = effect.interface, dialplan.CALLBACK_CONTEXT, ring_s
        try:
            if customer_first and not trunk:
                raise AmiError("no trunk_host configured: cannot dial the customer")
            await self.actions.originate(
                channel,
                callback_channel_id(effect.call_id, effect.agent_id, first, next(self._ids)),
                context,
                timeout_s,
                f'"Call-back" <{effect.number}>',
                variables,
            )
            log.info(
                "call-back %s: ringing the %s (agent %s)", effect.call_id, first, effect.agent_id
            )
        except AmiError as exc:
            log.warning("call-back %s: cannot ring the %s: %s", effect.call_id, first, exc)
            state = CallbackState.CUSTOMER_FAILED if customer_first else CallbackState.AGENT_FAILED
            self.apply(ev.CallbackProgress(effect.call_id, effect.agent_id, state, self.clock()))
