"""The agent pauses and resumes the recording of the call it is talking on.

PCI practice: card details are never recorded. Pausing mutes both directions
of the call's MixMonitor (AMI ``MixMonitorMute``), so the paused span is
silence in the mixed file and in each party's file, and the recording keeps
its timing; the span is stored against the call (``recording_pauses``) the
moment it starts, so the CDR, the transcript and the QA page can mark it.
Who may do it is the core's rule (``CallControl.own_call``); the mute goes
through the ordered AMI worker (``PbxActions.mixmonitor_mute``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from cti.ami.client import AmiError
from cti.ami.translate import callback_leg
from cti.domain.call_control import CallActionRefused, RefusalCode
from cti.qa.store import QaStore

if TYPE_CHECKING:  # the service imports this module
    from cti.domain.callcenter import CallCenter
    from cti.service.pbx_actions import PbxActions

log = logging.getLogger(__name__)


class RecordingPauses:
    """One per process: which calls have their recording paused, and since when."""

    def __init__(
        self,
        core: CallCenter,
        actions: PbxActions,
        store: QaStore,
        clock: Callable[[], float],
    ) -> None:
        self.core, self.actions, self.store, self.clock = core, actions, store, clock
        self._open: dict[str, int] = {}  # call id -> id of its open pause row
        self._lock = asyncio.Lock()  # one change at a time: a double click is one span

    def is_paused(self, agent_id: str, call_id: str) -> bool:
        """Whether the recording of the agent's call is paused (refuses as ``set_paused``)."""
        self.core.control.own_call(agent_id, call_id)
        return call_id in self._open

    async def set_paused(self, agent_id: str, call_id: str, paused: bool) -> bool:
        """Pause (``paused``) or resume; returns the new state.

        Only the agent talking on the call may do it (``not_your_call``;
        ``no_such_call`` for a call not in progress); asking for the state the
        recording is in already is a no-op. The span is stored once Asterisk
        has muted.
        """
        async with self._lock:
            return await self._set_paused(agent_id, call_id, paused)

    async def _set_paused(self, agent_id: str, call_id: str, paused: bool) -> bool:
        for ended in [c for c in self._open if c not in self.core.calls]:
            del self._open[ended]  # ended paused: the open span lasts to the call's end
        call = self.core.control.own_call(agent_id, call_id)  # refuses anyone else
        if paused == (call_id in self._open):
            return paused
        channel = call.channel or await self._callback_channel(call_id)
        try:
            await self.actions.mixmonitor_mute(channel, paused)
        except AmiError as exc:
            raise CallActionRefused(
                RefusalCode.PBX_ERROR,
                f"Asterisk refused to {'pause' if paused else 'resume'}: {exc}",
            ) from exc
        now = self.clock()
        if paused:
            self._open[call_id] = await self.store.pause_started(call_id, agent_id, now)
        else:
            await self.store.pause_ended(self._open.pop(call_id), now)
        log.info(
            "agent %s %s the recording of call %s",
            agent_id,
            "paused" if paused else "resumed",
            call_id,
        )
        return paused

    async def _callback_channel(self, call_id: str) -> str:
        """A call-back's recorded channel: its first leg (the caller's is gone)."""
        for item in await self.actions.channels():
            leg = callback_leg(str(item.get("Uniqueid", "")))
            if leg is not None and leg[2] == call_id and item.get("Channel"):
                return str(item["Channel"])
        raise CallActionRefused(RefusalCode.NO_RECORDING, f"call {call_id} has no recorded channel")
