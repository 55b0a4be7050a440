"""After every (re)connect to Asterisk, or a restart: rebuild the core's view.

Reads what Asterisk holds (channels, queue members, callers waiting for the
router), restores call-backs promised before a restart, and recovers CDRs of
calls that ended while the CTI was away (Asterisk's own CDR file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cti import dialplan
from cti.ami.chanvars import channel_variables, clean_callerid
from cti.ami.client import AmiClient, AmiError
from cti.ami.translate import callback_leg, channel_interface, waiting_event
from cti.config import Settings
from cti.db.backfill import read_callback_talks, read_calls
from cti.db.repository import Repository
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter, PbxChannel, PbxMember, PbxSnapshot
from cti.service.heartbeat import Heartbeat
from cti.service.pbx_actions import PbxActions
from cti.service.tasks import TaskOwner

log = logging.getLogger(__name__)


class Resync:
    def __init__(
        self,
        settings: Settings,
        ami: AmiClient,
        actions: PbxActions,
        heartbeat: Heartbeat,
        core: CallCenter,
        repository: Repository,
        tasks: TaskOwner,
        carry_out: Callable[[list[fx.Effect]], None],
        clock: Callable[[], float],
    ) -> None:
        self.settings, self.ami, self.actions, self.heartbeat = settings, ami, actions, heartbeat
        self.core, self.repository, self.tasks = core, repository, tasks
        self.carry_out, self.clock = carry_out, clock
        self.synced = heartbeat.synced  # set after each resync, cleared on disconnect
        self.backfill: asyncio.Task[int | None] | None = None
        self._callbacks_deferred = False
        self.first_sync = True  # this process knows no agent's state yet
        self._restore_later: asyncio.Task[None | None] | None = None

    def stop(self) -> None:
        """At shutdown: no more looking at call-backs still under way."""
        if self._restore_later is not None:
            self._restore_later.cancel()

    @property
    def routing(self) -> bool:
        return self.core.router is not None

    async def resync(self) -> None:
        """Rebuild our view from Asterisk after every (re)connect."""
        snapshot = await self.pbx_snapshot()
        if self.routing:
            await self.heartbeat.beat()  # before waiting callers give up on us
            for name, value in (
                (dialplan.ANNOUNCE_FIRST, self.settings.announce_first_s),
                (dialplan.ANNOUNCE_EVERY, self.settings.announce_every_s),
            ):
                await self.actions.setvar(name, str(max(0, round(value))))
            self.carry_out(await self.restore_callbacks())
        # the first sync of this process knows no agent: it takes Asterisk's members
        first, self.first_sync = self.first_sync, False
        self.carry_out(self.core.reconcile(snapshot, self.clock(), adopt_members=first))
        self.synced.set()
        self.backfill = self.tasks.spawn(self.recover_cdrs(), "cdr-recovery")
        log.info("resynced: %d calls, %d queue members", len(snapshot.calls), len(snapshot.members))

    # ------------------------------------------------------------ call-backs
    async def restore_callbacks(self) -> list[fx.Effect]:
        """Call-backs promised before a restart wait again in their old place.

        A try still up in Asterisk (its legs live) is left to finish and looked
        at again a few seconds later; a try that ended while the CTI was away
        is looked up in Asterisk's CDR file (did the customer talk to an
        agent?) before anything else is done with it.
        """
        try:
            stored = await self.repository.pending_callbacks()
            pending = [p for p in stored if p.call_id not in self.core.calls]
        except Exception:
            log.exception("cannot read the pending call-backs")
            return []
        if not pending:
            return []
        channels = await self.ami.list_action({"Action": "CoreShowChannels"})
        live: set[str] = set()
        for channel in channels:
            for uniqueid in (channel.get("Uniqueid", ""), channel.get("Linkedid", "")):
                leg = callback_leg(uniqueid)
                if leg is not None:
                    live.add(leg[2])
        under_way = [p for p in pending if p.in_flight and p.call_id in live]
        ready = [p for p in pending if not (p.in_flight and p.call_id in live)]
        talked: dict[str, tuple[str, float, float]] = {}
        in_flight = [p.call_id for p in ready if p.in_flight]
        if in_flight:
            path = self.settings.effective_asterisk_cdr_file
            try:
                talked = await asyncio.to_thread(read_callback_talks, path, in_flight)
            except OSError as exc:
                log.warning("cannot read Asterisk's CDR file %s: %s", path, exc)
        if under_way and not self._callbacks_deferred:
            self._callbacks_deferred = True
            self._restore_later = self.tasks.spawn(
                self._restore_callbacks_later(), "callback-restore"
            )
        if ready:
            log.warning("restoring %d pending call-back(s)", len(ready))
        return self.core.restore_callbacks(ready, self.clock(), talked)

    async def _restore_callbacks_later(self, delay_s: float = 5.0) -> None:
        try:
            while True:
                await asyncio.sleep(delay_s)
                if not self.synced.is_set():
                    continue
                try:
                    self.carry_out(await self.restore_callbacks())
                except AmiError as exc:
                    log.warning("pending call-backs not checked: %s", exc)
                    continue
                pending = await self.repository.pending_callbacks()
                if all(p.call_id in self.core.calls for p in pending):
                    return
        finally:
            self._callbacks_deferred = False

    # ------------------------------------------------------------ CDRs
    async def recover_cdrs(self) -> int:
        """Store CDRs of hotline calls that ended while we were not connected."""
        path = self.settings.effective_asterisk_cdr_file
        try:
            calls = await asyncio.to_thread(read_calls, path, self.settings.recordings_dir)
        except OSError as exc:
            log.warning("cannot read Asterisk's CDR file %s: %s", path, exc)
            return 0
        missing = [c for c in calls if c.call_id not in self.core.calls]
        try:
            stored = await self.repository.insert_missing_cdrs(missing)
        except Exception:
            log.exception("recovering CDRs from %s failed", path)
            return 0
        if stored:
            log.warning("recovered %d CDR(s) from %s", stored, path)
        return stored

    # ------------------------------------------------------------ snapshot
    async def pbx_snapshot(self) -> PbxSnapshot:
        channels = await self.ami.list_action({"Action": "CoreShowChannels"})
        queue_status = await self.ami.list_action({"Action": "QueueStatus"})
        now = self.clock()
        queued: dict[str, str] = {}
        members: list[PbxMember] = []
        queues: list[str] = []
        for item in queue_status:
            kind = item.get("Event")
            if kind == "QueueParams":
                queues.append(item.get("Queue", ""))
            elif kind == "QueueMember":
                members.append(
                    PbxMember(
                        item.get("Queue", ""),
                        item.get("Name", ""),
                        item.get("Location", "") or item.get("Interface", ""),
                        item.get("Paused", "0") == "1",
                        item.get("PausedReason", ""),
                    )
                )
            elif kind == "QueueEntry":
                queued[item.get("Uniqueid", "")] = item.get("Queue", "")
        calls: list[PbxChannel] = []
        agent_by_linkedid: dict[str, str] = {}
        for ch in channels:
            agent = self.core.agent_for_interface(channel_interface(ch.get("Channel", "")))
            if (
                agent is not None
                and ch.get("Uniqueid") != ch.get("Linkedid")
                and ch.get("ChannelStateDesc") == "Up"  # talking, not ringing
            ):
                agent_by_linkedid[ch.get("Linkedid", "")] = agent.agent_id
        waiting: list[ev.CallWaiting] = []
        for ch in channels:
            uid = ch.get("Uniqueid", "")
            if uid != ch.get("Linkedid") or self.core.agent_for_interface(
                channel_interface(ch.get("Channel", ""))
            ):
                continue
            if not ch.get("Channel", "").startswith("PJSIP/trunk"):
                continue
            if (
                self.routing
                and ch.get("Context") in (dialplan.WAIT_CONTEXT, dialplan.OFFER_CONTEXT)
                and uid not in agent_by_linkedid
            ):
                event = await self._waiting_from_pbx(ch.get("Channel", ""), uid, now)
                if event is not None:
                    waiting.append(event)
            known = channel_variables(ch)  # IVR path, queue, recording (manager.conf)
            calls.append(
                PbxChannel(
                    uid,
                    ch.get("Channel", ""),
                    clean_callerid(ch.get("CallerIDNum", "")),
                    clean_callerid(ch.get("CallerIDName", "")),
                    now - _hms(ch.get("Duration", "")),
                    queue=queued.get(uid),
                    agent_id=agent_by_linkedid.get(uid) if uid not in queued else None,
                    ivr_path=known.get(dialplan.IVR_PATH, ""),
                    chosen_queue=known.get(dialplan.QUEUE) or None,
                    recording_path=known.get(dialplan.RECORDING) or None,
                )
            )
        return PbxSnapshot(tuple(calls), tuple(members), tuple(queues), tuple(waiting))

    async def _waiting_from_pbx(
        self, channel: str, call_id: str, now: float
    ) -> ev.CallWaiting | None:
        """A caller found waiting for the router after a (re)connect."""
        try:
            routing = await self.ami.action(
                {"Action": "Getvar", "Channel": channel, "Variable": dialplan.ROUTING}
            )
            since = await self.ami.action(
                {"Action": "Getvar", "Channel": channel, "Variable": dialplan.WAIT_SINCE}
            )
        except AmiError as exc:
            log.warning("cannot read routing variables of %s: %s", channel, exc)
            return None
        value = routing.get("Value", "")
        if not value:
            return None
        try:
            at = float(since.get("Value", ""))
        except ValueError:
            at = now
        return waiting_event(call_id, value, min(at, now))


def _hms(text: str) -> float:
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)
