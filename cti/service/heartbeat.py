"""The CTI's heartbeat: the global ``HOTLINE_CTI_ALIVE`` tells the dialplan the CTI routes calls.

Waiting callers check it in ``[hotline-cti-alive]``; when it goes stale (or is
emptied at shutdown) they are given to app_queue.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cti import dialplan
from cti.ami.client import AmiError
from cti.service.pbx_actions import PbxActions

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, actions: PbxActions, every_s: float, synced: asyncio.Event) -> None:
        self.actions, self.every_s, self.synced = actions, every_s, synced

    async def beat(self) -> None:
        """Write the CTI's clock now (raises ``AmiError``)."""
        await self.actions.setvar(dialplan.CTI_ALIVE, str(int(time.time())))

    async def run(self) -> None:
        while True:
            if self.synced.is_set():
                try:
                    await self.beat()
                except AmiError as exc:
                    log.warning("CTI heartbeat not written: %s", exc)
            await asyncio.sleep(self.every_s)

    async def stop_routing(self) -> None:
        """On shutdown: waiting callers go to app_queue now, not after the grace time."""
        if not self.synced.is_set():
            return
        try:
            await asyncio.wait_for(self.actions.setvar(dialplan.CTI_ALIVE, ""), timeout=2.0)
        except (AmiError, TimeoutError) as exc:
            log.warning("could not hand waiting callers to app_queue: %s", exc)
