"""Carry out a supervisor's listen / whisper / barge: check, audit, Originate."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti import dialplan
from cti.ami.client import AmiError
from cti.audit import AuditLog
from cti.db.repository import Repository
from cti.domain.callcenter import CallCenter
from cti.domain.model import AgentState
from cti.supervision.spy import (
    SpyMode,
    SpyOrder,
    SpyRefused,
    agent_channel,
    check_interface,
)

if TYPE_CHECKING:  # the service package imports this module (its facade)
    from cti.service.pbx_actions import PbxActions

log = logging.getLogger(__name__)

AUDIT_ACTION = "supervisor.monitor"
RING_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Supervisor:
    username: str
    role: str


class Monitoring:
    """The supervisor's phone is rung and joined to the agent's channel by ChanSpy."""

    def __init__(
        self, core: CallCenter, repository: Repository, actions: PbxActions, audit: AuditLog
    ) -> None:
        self.core, self.repository, self.actions, self.audit = core, repository, actions, audit

    async def start(self, who: Supervisor, agent_id: str, mode: SpyMode) -> SpyOrder:
        """Raises ``SpyRefused``; every accepted request is in the audit log before
        the PBX is asked, and a PBX refusal is written there too."""
        agent = self.core.agents.get(agent_id)
        if agent is None:
            raise SpyRefused(404, "no_such_agent", f"no agent {agent_id!r}")
        if agent.state is not AgentState.TALKING or agent.call_id is None:
            raise SpyRefused(409, "agent_not_talking", f"agent {agent_id} is not on a call")
        call_id = agent.call_id
        user = await self.repository.user(who.username)
        interface = check_interface(user.interface if user is not None else None)
        try:
            channels = await self.actions.channels()
        except AmiError as exc:
            raise SpyRefused(502, "pbx_error", f"cannot list the PBX's channels: {exc}") from exc
        order = SpyOrder(
            mode=mode,
            agent_id=agent_id,
            call_id=call_id,
            agent_channel=agent_channel(agent.interface, call_id, channels),
            supervisor_interface=interface,
        )
        detail = {
            "mode": mode.value,
            "call_id": call_id,
            "agent_channel": order.agent_channel,
            "supervisor_phone": interface,
        }
        await self.audit.append(who.username, who.role, AUDIT_ACTION, agent_id, detail)
        try:
            await self.actions.originate(
                order.supervisor_interface,
                None,
                dialplan.SPY_CONTEXT,
                RING_TIMEOUT_S,
                order.caller_id,
                order.variables,
                exten=order.mode.value,
            )
        except AmiError as exc:
            await self.audit.append(
                who.username,
                who.role,
                f"{AUDIT_ACTION}.failed",
                agent_id,
                {**detail, "error": str(exc)[:500]},
            )
            raise SpyRefused(502, "pbx_error", f"the PBX refused the call: {exc}") from exc
        log.info(
            "%s %s: %s on agent %s (%s)",
            who.role,
            who.username,
            mode,
            agent_id,
            order.agent_channel,
        )
        return order
