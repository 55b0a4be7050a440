"""An agent's call actions (hang-up, blind transfer, disposition): the rules, no I/O.

"Is this the agent's call", "may it go to that target", "did this agent
transfer it already": checks that raise :class:`CallActionRefused` with a
stable code, and the record of each call's last blind transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cti.domain.model import Agent, AgentState, Call, CallState, Queue


class RefusalCode(StrEnum):
    """Why a call action was refused (the web answers with these codes)."""

    NO_SUCH_CALL = "no_such_call"
    NOT_YOUR_CALL = "not_your_call"
    UNKNOWN_TARGET = "unknown_target"
    TARGET_UNAVAILABLE = "target_unavailable"
    BAD_REQUEST = "bad_request"
    TRANSFERRED = "transferred"
    PBX_ERROR = "pbx_error"
    NO_RECORDING = "no_recording"


class CallActionRefused(Exception):
    """An agent's call action (hang-up, transfer, disposition) that is not allowed."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class TransferKind(StrEnum):
    QUEUE = "queue"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Transfer:
    """A blind transfer of a call by ``from_agent`` to a queue or an agent."""

    from_agent: str
    to: str
    kind: TransferKind

    def as_json(self) -> dict[str, Any]:
        return {"from": self.from_agent, "to": self.to, "kind": self.kind.value}


class CallControl:
    """The checks and the transfer record; reads the core's calls, agents and queues."""

    def __init__(
        self, calls: Mapping[str, Call], agents: Mapping[str, Agent], queues: Mapping[str, Queue]
    ) -> None:
        self._calls, self._agents, self._queues = calls, agents, queues
        self._transfers: dict[str, Transfer] = {}  # call id -> its last blind transfer

    def own_call(self, agent_id: str, call_id: str) -> Call:
        """The call ``call_id`` if ``agent_id`` is talking on it; refuses otherwise."""
        call = self._calls.get(call_id)
        if call is None:
            raise CallActionRefused(RefusalCode.NO_SUCH_CALL, f"call {call_id} is not in progress")
        agent = self._agents.get(agent_id)
        if (
            agent is None
            or agent.call_id != call_id
            or call.agent_id != agent_id
            or call.state is not CallState.TALKING
        ):
            raise CallActionRefused(
                RefusalCode.NOT_YOUR_CALL, f"call {call_id} is not a call you are talking on"
            )
        return call

    def check_transfer(self, agent_id: str, call_id: str, kind: str, target: str) -> TransferKind:
        """May the agent blind-transfer its call to ``target``? The kind, or refused."""
        self.own_call(agent_id, call_id)
        if kind == TransferKind.QUEUE:
            if target not in self._queues:
                raise CallActionRefused(RefusalCode.UNKNOWN_TARGET, f"there is no queue {target!r}")
            return TransferKind.QUEUE
        if kind == TransferKind.AGENT:
            other = self._agents.get(target)
            if other is None or target == agent_id or not target.isdigit():
                raise CallActionRefused(
                    RefusalCode.UNKNOWN_TARGET, f"there is no other agent {target!r}"
                )
            if other.state is not AgentState.READY:
                raise CallActionRefused(
                    RefusalCode.TARGET_UNAVAILABLE, f"agent {target} is not ready ({other.state})"
                )
            return TransferKind.AGENT
        raise CallActionRefused(RefusalCode.BAD_REQUEST, "transfer to a 'queue' or an 'agent'")

    def begin_transfer(self, call_id: str, transfer: Transfer) -> Transfer | None:
        """Record the transfer before it is carried out (the new agent's pop may come
        before Asterisk's reply); returns the previous one for :meth:`cancel_transfer`."""
        previous = self._transfers.get(call_id)
        self._transfers[call_id] = transfer
        return previous

    def cancel_transfer(self, call_id: str, previous: Transfer | None) -> None:
        """Asterisk refused the transfer: the call's record is what it was."""
        if previous is None:
            self._transfers.pop(call_id, None)
        else:
            self._transfers[call_id] = previous

    def transfer_of(self, call_id: str) -> Transfer | None:
        return self._transfers.get(call_id)

    def call_ended(self, call_id: str) -> None:
        self._transfers.pop(call_id, None)

    def check_disposition(self, agent_id: str, call_id: str) -> bool:
        """May the agent give the disposition of a call? True: the call is live and
        the agent's; False: not live (the adapter asks the records). Refused:
        a live call of another agent, or one this agent transferred away."""
        live = self._calls.get(call_id)
        if live is None:
            return False
        transfer = self._transfers.get(call_id)
        if transfer is not None and transfer.from_agent == agent_id:
            raise CallActionRefused(
                RefusalCode.TRANSFERRED,
                f"you transferred call {call_id}: its disposition is the next agent's",
            )
        if live.agent_id != agent_id:
            raise CallActionRefused(
                RefusalCode.NOT_YOUR_CALL, f"call {call_id} was not answered by you"
            )
        return True

    def pop_still_due(self, agent_id: str, call_id: str) -> bool:
        """Is a late screen-pop update still the agent's to see? (Never resurrect a
        finished pop: only while the call is the agent's or transferred to it.)"""
        agent = self._agents.get(agent_id)
        if call_id not in self._calls or agent is None:
            return False
        transfer = self._transfers.get(call_id)
        return agent.call_id == call_id or (transfer is not None and transfer.to == agent_id)
