"""The agent pauses and resumes the recording of the call it is talking on.

PCI practice: card details are never recorded. Pausing mutes both directions
of the call's MixMonitor (AMI ``MixMonitorMute``), so the paused span is
silence in the mixed file and in each party's file, and the recording keeps
its timing; the span is stored against the call (``recording_pauses``) the
moment it starts, so the CDR, the transcript and the QA page can mark it.
"""

from __future__ import annotations

import asyncio
import logging

from cti.ami.client import AmiError
from cti.ami.translate import callback_leg
from cti.qa.store import QaStore
from cti.service import CallActionRefused, Hotline

log = logging.getLogger(__name__)


class RecordingPauses:
    """One per process: which calls have their recording paused, and since when."""

    def __init__(self, hotline: Hotline, store: QaStore) -> None:
        self.hotline = hotline
        self.store = store
        self._open: dict[str, int] = {}  # call id -> id of its open pause row
        self._lock = asyncio.Lock()  # one change at a time: a double click is one span

    def is_paused(self, agent_id: str, call_id: str) -> bool:
        """Whether the recording of the agent's call is paused (refuses as ``set_paused``)."""
        self.hotline._own_call(agent_id, call_id)
        return call_id in self._open

    async def set_paused(self, agent_id: str, call_id: str, paused: bool) -> bool:
        """Pause (``paused``) or resume; returns the new state.

        Only the agent talking on the call may do it (403 otherwise, 404 for a
        call not in progress); asking for the state the recording is in
        already is a no-op. The span is stored once Asterisk has muted.
        """
        async with self._lock:
            return await self._set_paused(agent_id, call_id, paused)

    async def _set_paused(self, agent_id: str, call_id: str, paused: bool) -> bool:
        hotline = self.hotline
        for ended in [c for c in self._open if c not in hotline.core.calls]:
            del self._open[ended]  # ended paused: the open span lasts to the call's end
        hotline._own_call(agent_id, call_id)  # refuses anyone but the call's agent
        if paused == (call_id in self._open):
            return paused
        channel = await self._recorded_channel(call_id)
        try:
            await hotline.ami.action(
                {
                    "Action": "MixMonitorMute",
                    "Channel": channel,
                    "Direction": "both",
                    "State": "1" if paused else "0",
                }
            )
        except AmiError as exc:
            raise CallActionRefused(
                502, "pbx_error", f"Asterisk refused to {'pause' if paused else 'resume'}: {exc}"
            ) from exc
        now = hotline.clock()
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

    async def _recorded_channel(self, call_id: str) -> str:
        """The channel carrying the call's MixMonitor: the caller's, or a call-back's first leg."""
        channel = self.hotline.core.calls[call_id].channel
        if channel:
            return channel
        for item in await self.hotline.ami.list_action({"Action": "CoreShowChannels"}):
            leg = callback_leg(str(item.get("Uniqueid", "")))
            if leg is not None and leg[2] == call_id and item.get("Channel"):
                return str(item["Channel"])
        raise CallActionRefused(409, "no_recording", f"call {call_id} has no recorded channel")
