"""The composition root: wires the core to AMI, FastAGI, storage and the web.

``Hotline`` owns one ``CallCenter`` (pure) and carries out its effects:
AMI actions go through one ordered worker, publications go to the WebSocket
hub, CDRs to the repository. AMI events are consumed by one task, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any, TypeVar

from cti.ami.client import AmiClient, AmiError, Connected, Disconnected
from cti.ami.translate import translate
from cti.config import Settings
from cti.db.backfill import read_calls
from cti.db.models import Customer
from cti.db.repository import Repository
from cti.domain import effects as fx
from cti.domain.callcenter import CallCenter, PbxChannel, PbxMember, PbxSnapshot
from cti.domain.model import AgentSnapshot, CallDetailRecord, CallSnapshot
from cti.pbx import runtime
from cti.web.hub import Hub
from recordings.catalogue import RecordingPathError, host_path

log = logging.getLogger(__name__)
T = TypeVar("T")

QUEUES = ("general", "billing", "technical", "account")
INBOUND_CONTEXTS = frozenset({"from-pstn", "hotline"})


class Hotline:
    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        ami: AmiClient,
        hub: Hub,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.ami = ami
        self.hub = hub
        self.clock = clock
        self.core = CallCenter(QUEUES)
        self.ami_actions: asyncio.Queue[fx.Effect] = asyncio.Queue()
        self.synced = asyncio.Event()  # set after each resync, cleared on disconnect
        self._customers: dict[str, asyncio.Task[Customer | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.backfill: asyncio.Task[int] | None = None
        self.cdr_queue: asyncio.Queue[tuple[CallDetailRecord, int | None]] = asyncio.Queue()

    async def load_agents(self) -> None:
        for user in await self.repository.agents():
            self.core.register_agent(
                user.username,
                user.interface or f"PJSIP/agent{user.username}",
                user.queue_list,
                user.wrap_up_s,
            )

    # ------------------------------------------------------------ run loops
    async def consume_ami(self) -> None:
        """The one consumer of AMI events: translate, apply, carry out."""
        while True:
            item = await self.ami.events.get()
            try:
                if isinstance(item, Connected):
                    await self.resync()
                elif isinstance(item, Disconnected):
                    self.synced.clear()
                else:
                    now = self.clock()
                    for event in translate(item, now, INBOUND_CONTEXTS):
                        self.carry_out(self.core.apply(event))
            except Exception:
                log.exception("failed to handle AMI item %r", item)

    async def run_ami_actions(self) -> None:
        """One worker so membership changes reach Asterisk in the order decided."""
        while True:
            effect = await self.ami_actions.get()
            try:
                await self._ami_effect(effect)
            except AmiError as exc:
                # after a reconnect, resync re-applies the membership we want
                log.warning("AMI action for %r failed: %s", effect, exc)

    async def resync(self) -> None:
        """Rebuild our view from Asterisk after every (re)connect."""
        snapshot = await self.pbx_snapshot()
        self.carry_out(self.core.reconcile(snapshot, self.clock()))
        self.synced.set()
        self.backfill = self._spawn(self.recover_cdrs())
        log.info("resynced: %d calls, %d queue members", len(snapshot.calls), len(snapshot.members))

    async def recover_cdrs(self) -> int:
        """Store CDRs of hotline calls that ended while we were not connected."""
        path = self.settings.asterisk_cdr_file or runtime.cdr_file(self.settings)
        try:
            calls = await asyncio.to_thread(read_calls, path)
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
                    )
                )
            elif kind == "QueueEntry":
                queued[item.get("Uniqueid", "")] = item.get("Queue", "")
        calls: list[PbxChannel] = []
        agent_by_linkedid: dict[str, str] = {}
        for ch in channels:
            agent = self.core.agent_for_interface(_interface_of(ch.get("Channel", "")))
            if agent is not None and ch.get("Uniqueid") != ch.get("Linkedid"):
                agent_by_linkedid[ch.get("Linkedid", "")] = agent.agent_id
        for ch in channels:
            uid = ch.get("Uniqueid", "")
            if uid != ch.get("Linkedid") or self.core.agent_for_interface(
                _interface_of(ch.get("Channel", ""))
            ):
                continue
            if not ch.get("Channel", "").startswith("PJSIP/trunk"):
                continue
            calls.append(
                PbxChannel(
                    uid,
                    ch.get("Channel", ""),
                    ch.get("CallerIDNum", ""),
                    ch.get("CallerIDName", ""),
                    now - _hms(ch.get("Duration", "")),
                    queue=queued.get(uid),
                    agent_id=agent_by_linkedid.get(uid) if uid not in queued else None,
                )
            )
        return PbxSnapshot(tuple(calls), tuple(members), tuple(queues))

    # ------------------------------------------------------------ commands
    def agent_command(self, name: str, agent_id: str, **kwargs: Any) -> AgentSnapshot:
        """Run an agent command on the core (raises AgentCommandRefused)."""
        now = self.clock()
        if name == "login":
            effects = self.core.login(agent_id, now)
        elif name == "ready":
            effects = self.core.ready(agent_id, now)
        elif name == "pause":
            effects = self.core.pause(agent_id, str(kwargs.get("reason") or "break"), now)
        elif name == "logout":
            effects = self.core.logout(agent_id, now)
        else:
            raise ValueError(f"unknown agent command {name!r}")
        self.carry_out(effects)
        return self.core.agents[agent_id].snapshot()

    # ------------------------------------------------------------ effects
    def carry_out(self, effects: list[fx.Effect]) -> None:
        for effect in effects:
            match effect:
                case fx.AddQueueMember() | fx.RemoveQueueMember() | fx.PauseQueueMember():
                    self.ami_actions.put_nowait(effect)
                case fx.PublishScreenPop(agent_id=agent_id, call=call):
                    self._screen_pop(agent_id, call)
                case fx.PublishAgentState(agent=agent):
                    data = agent_json(agent)
                    self.hub.to_user(agent.agent_id, "agent.state", data)
                    self.hub.to_supervisors("agent.state", data)
                case fx.PublishCallUpdate(call=call):
                    if call.call_id not in self._customers:
                        self._customers[call.call_id] = self._spawn(
                            self.repository.customer_by_phone(call.caller_number)
                        )
                    self.hub.to_supervisors("call.update", call_json(call))
                case fx.StoreCdr(cdr=cdr):
                    self._spawn(self._store_cdr(cdr))
                case fx.ScheduleWrapUpEnd(agent_id=agent_id, at=at):
                    self._schedule_wrap_up_end(agent_id, at)

    async def _ami_effect(self, effect: fx.Effect) -> None:
        match effect:
            case fx.AddQueueMember():
                await self.ami.action(
                    {
                        "Action": "QueueAdd",
                        "Queue": effect.queue,
                        "Interface": effect.interface,
                        "MemberName": effect.agent_id,
                        "StateInterface": effect.interface,
                        "Paused": "true" if effect.paused else "false",
                        "Reason": effect.reason,
                    }
                )
            case fx.RemoveQueueMember():
                await self.ami.action(
                    {"Action": "QueueRemove", "Queue": effect.queue, "Interface": effect.interface}
                )
            case fx.PauseQueueMember():
                await self.ami.action(
                    {
                        "Action": "QueuePause",
                        "Interface": effect.interface,
                        "Paused": "true" if effect.paused else "false",
                        "Reason": effect.reason,
                    }
                )

    async def customer_for(self, call: CallSnapshot) -> Customer | None:
        task = self._customers.get(call.call_id)
        if task is None:
            task = self._customers[call.call_id] = self._spawn(
                self.repository.customer_by_phone(call.caller_number)
            )
        try:
            return await asyncio.shield(task)
        except Exception:
            log.exception("customer lookup failed for %s", call.caller_number)
            return None

    def _screen_pop(self, agent_id: str, call: CallSnapshot) -> None:
        """Pop at once; never wait on the database in this path.

        The customer was looked up when the call arrived (seconds earlier,
        during the IVR). If that lookup is somehow not done yet, the pop goes
        out with ``customer_pending`` and a ``screen.pop`` update follows.
        """
        lookup = self._customers.get(call.call_id)
        data = call_json(call)
        if lookup is not None and lookup.done():
            data["customer"] = customer_json(None if lookup.exception() else lookup.result())
            self.hub.to_user(agent_id, "screen.pop", data)
            return
        data["customer"], data["customer_pending"] = None, True
        self.hub.to_user(agent_id, "screen.pop", data)
        self._spawn(self._complete_screen_pop(agent_id, call, data))

    async def _complete_screen_pop(
        self, agent_id: str, call: CallSnapshot, data: dict[str, Any]
    ) -> None:
        customer = customer_json(await self.customer_for(call))
        update = data | {"customer": customer, "customer_pending": False}
        self.hub.to_user(agent_id, "screen.pop", update)

    async def _store_cdr(self, cdr: CallDetailRecord) -> None:
        task = self._customers.pop(cdr.call_id, None)
        customer = None
        if task is not None:
            with contextlib.suppress(Exception):
                customer = await task
        if cdr.recording_path:
            try:
                local = host_path(self.settings.recordings_dir, cdr.recording_path)
                cdr = dataclasses.replace(cdr, recording_path=str(local))
            except RecordingPathError:
                log.warning(
                    "call %s: recording outside the catalogue: %s", cdr.call_id, cdr.recording_path
                )
        self.cdr_queue.put_nowait((cdr, customer.id if customer else None))

    async def run_cdr_writer(self) -> None:
        """One writer: CDRs are committed in batches, retried until stored.

        A batch that fails stays in hand and is retried with backoff, so a
        database outage delays CDRs but loses none while the process lives;
        what a crash loses is recovered from Asterisk's CDR file on restart.
        """
        while True:
            batch = [await self.cdr_queue.get()]
            while not self.cdr_queue.empty() and len(batch) < 500:
                batch.append(self.cdr_queue.get_nowait())
            delay = 0.2
            while True:
                try:
                    await self.repository.save_cdrs(batch)
                    break
                except Exception:
                    log.exception("storing %d CDR(s) failed; retrying in %.1fs", len(batch), delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for _ in batch:
                self.cdr_queue.task_done()

    def _schedule_wrap_up_end(self, agent_id: str, at: float) -> None:
        old = self._timers.pop(agent_id, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock())
        loop = asyncio.get_running_loop()
        self._timers[agent_id] = loop.call_later(
            delay, lambda: self.carry_out(self.core.end_wrap_up(agent_id, self.clock()))
        )

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for spawned work (pops, CDR writes) to finish: for shutdown and tests."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.cdr_queue.join()


def _interface_of(channel: str) -> str:
    """'PJSIP/agent1001-00000002' -> 'PJSIP/agent1001'."""
    base, sep, _ = channel.rpartition("-")
    return base if sep else channel


def _hms(text: str) -> float:
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def agent_json(agent: AgentSnapshot) -> dict[str, Any]:
    data = asdict(agent)
    data["state"] = agent.state.value
    data["queues"] = list(agent.queues)
    return data


def call_json(call: CallSnapshot) -> dict[str, Any]:
    data = asdict(call)
    data["state"] = call.state.value
    data["waited_s"] = round(call.waited_s, 3)
    return data


def customer_json(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "id": customer.id,
        "phone": customer.phone,
        "name": customer.name,
        "tier": customer.tier,
        "language": customer.language,
        "notes": customer.notes,
    }
