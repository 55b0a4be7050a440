"""An agent's call actions: hang-up, blind transfer and disposition.

The rules ("is this the agent's call", "already transferred") are the core's
(:mod:`cti.domain.call_control`); this module carries the actions out on
Asterisk and in the records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cti import dialplan
from cti.ami.client import AmiError
from cti.db.repository import AgentDisposition
from cti.domain import effects as fx
from cti.domain.call_control import CallActionRefused, RefusalCode, Transfer, TransferKind
from cti.domain.callcenter import CallCenter
from cti.service.pbx_actions import PbxActions
from cti.service.records import DispositionOutcome, Records

log = logging.getLogger(__name__)


class CallActions:
    def __init__(
        self,
        core: CallCenter,
        actions: PbxActions,
        records: Records,
        carry_out: Callable[[list[fx.Effect]], None],
        clock: Callable[[], float],
        on_disposition: Callable[[str, str], None] = lambda call_id, code: None,
    ) -> None:
        self.core, self.actions, self.records = core, actions, records
        self.carry_out, self.clock = carry_out, clock
        self.on_disposition = on_disposition  # (call id, code) once kept or stored

    async def hangup(self, agent_id: str, call_id: str) -> None:
        """Hang up the agent's current call (AMI Hangup of the caller's channel)."""
        channel = self.core.control.own_call(agent_id, call_id).channel
        try:
            await self.actions.hangup(channel)
        except AmiError as exc:
            raise CallActionRefused(
                RefusalCode.PBX_ERROR, f"Asterisk refused the hang-up: {exc}"
            ) from exc
        log.info("agent %s hung up call %s (%s)", agent_id, call_id, channel)

    async def transfer(self, agent_id: str, call_id: str, kind: str, target: str) -> None:
        """Blind transfer of the agent's current call to a queue or a ready agent.

        The caller's channel is sent with AMI Redirect: to the Queue() step of
        the hotline dialplan (``HOTLINE_QUEUE`` set first), or to the target
        agent's extension in ``[agents]``. Asterisk then hangs up the agent's
        leg without an AgentComplete event, so the agent's part of the call is
        closed here (wrap-up or ready) once Asterisk accepted the Redirect.
        """
        control = self.core.control
        checked = control.check_transfer(agent_id, call_id, kind, target)
        channel = self.core.calls[call_id].channel
        try:
            if checked is TransferKind.QUEUE:
                await self.actions.setvar(dialplan.QUEUE, target, channel)
                await self.actions.setvar(dialplan.PRODUCT, "", channel)
                control.own_call(agent_id, call_id)  # still on it after the awaits
                context, exten = dialplan.WAIT_CONTEXT, "s"
            else:
                context, exten = dialplan.AGENTS_CONTEXT, target
            # known before the new agent's pop, which may come before the reply
            previous = control.begin_transfer(call_id, Transfer(agent_id, target, checked))
            try:
                await self.actions.redirect(channel, context, exten)
            except AmiError:
                control.cancel_transfer(call_id, previous)
                raise
        except AmiError as exc:
            raise CallActionRefused(
                RefusalCode.PBX_ERROR, f"Asterisk refused the transfer: {exc}"
            ) from exc
        log.info("agent %s transferred call %s to %s %s", agent_id, call_id, kind, target)
        self.carry_out(self.core.transferred(agent_id, call_id, self.clock()))

    async def save_disposition(
        self, agent_id: str, call_id: str, code: str, notes: str
    ) -> DispositionOutcome:
        """Record the agent's disposition of a call; stored or pending.

        The CDR row is written when the call ends (by the batched writer), so
        a disposition given during the call, or in the moment between its end
        and the CDR commit, is kept and written in the CDR's own transaction
        (pending). Later ones update the row (stored). Only the agent who
        answered the call may give it.
        """
        chosen = AgentDisposition(agent_id, code, notes)
        live = self.core.control.check_disposition(agent_id, call_id)
        in_flight, owner = self.records.cdr_owner(call_id)
        if not live and in_flight and owner != agent_id:
            raise CallActionRefused(
                RefusalCode.NOT_YOUR_CALL, f"call {call_id} was not answered by you"
            )
        if live or in_flight:
            self.records.keep_disposition(call_id, chosen)
            self.on_disposition(call_id, code)
            return DispositionOutcome.PENDING
        if not await self.records.store_disposition(call_id, chosen):
            raise CallActionRefused(
                RefusalCode.NOT_YOUR_CALL, f"call {call_id} is not a call answered by you"
            )
        self.on_disposition(call_id, code)
        return DispositionOutcome.STORED
