"""The composition root: wires the core to AMI, FastAGI, storage and the web.

``Hotline`` owns one ``CallCenter`` (pure) and carries out its effects:
AMI actions go through one ordered worker, publications go to the WebSocket
hub, CDRs to the repository. AMI events are consumed by one task, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any, Protocol, TypeVar

import aiohttp

from cti.ami.chanvars import channel_variables, clean_callerid
from cti.ami.client import AmiClient, AmiError, Connected, Disconnected
from cti.ami.translate import (
    callback_channel_id,
    callback_leg,
    channel_interface,
    translate,
    waiting_event,
)
from cti.config import Settings
from cti.db.backfill import read_callback_talks, read_calls
from cti.db.cdr_store import DeadLetters, SpillingQueue, spill_to, store_callbacks, store_cdrs
from cti.db.models import CallRecord, Customer
from cti.db.repository import AgentDisposition, Repository
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import (
    CallCenter,
    PbxChannel,
    PbxMember,
    PbxSnapshot,
    QueueEstimate,
)
from cti.domain.model import (
    AgentSnapshot,
    AgentState,
    CallDetailRecord,
    CallSnapshot,
    CallState,
    PendingCallback,
)
from cti.pbx import runtime
from cti.routing import Router
from cti.routing.config import load_routes
from cti.web.hub import Hub
from recordings.catalogue import VOICEMAIL_FOLDER, RecordingPathError, host_path

log = logging.getLogger(__name__)
T = TypeVar("T")

QUEUES = ("general", "billing", "technical", "account")
INBOUND_CONTEXTS = frozenset({"from-pstn", "hotline"})
# Dialplan places the CTI sends callers to (asterisk-conf/extensions.conf):
# waiting for the router (a blind transfer to a queue starts there too, so the
# recording already running is not started twice), the router's offer to one
# agent, back to waiting after an unanswered offer, an agent's own extension.
WAIT_CONTEXT = "hotline-wait"
OFFER_CONTEXT = "hotline-offer"
AGENTS_CONTEXT = "agents"
OFFER_VARIABLE = "HOTLINE_OFFER"
CALLBACK_CONTEXT = "hotline-callback"
CALLBACK_CUSTOMER_CONTEXT = "hotline-callback-customer"
CTI_ALIVE_VARIABLE = "HOTLINE_CTI_ALIVE"


class CallActionRefused(Exception):
    """An agent's call action (hang-up, transfer, disposition) that is not allowed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CrmLookup(Protocol):
    """An external customer lookup by caller number."""

    async def lookup(self, number: str) -> dict[str, Any] | None:
        """The customer record, None when unknown; raises on failure."""
        ...  # pragma: no cover


class CrmError(Exception):
    pass


class HttpCrm:
    """The site's CRM over HTTP: GET ``crm_url`` with ``{number}`` filled in.

    200 with a JSON object: the record; 404: unknown caller; anything else,
    a timeout or a connection error: ``CrmError``.
    """

    def __init__(self, url: str, timeout_s: float, bearer_token: str = "") -> None:
        self.url, self.timeout_s, self.bearer_token = url, timeout_s, bearer_token
        self._http: aiohttp.ClientSession | None = None

    async def lookup(self, number: str) -> dict[str, Any] | None:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        url = self.url.replace("{number}", urllib.parse.quote(number, safe=""))
        headers = {"Accept": "application/json"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        try:
            async with self._http.get(url, headers=headers, allow_redirects=False) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise CrmError(f"CRM answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except TimeoutError as exc:
            raise CrmError(f"CRM did not answer within {self.timeout_s:g} s") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise CrmError(f"CRM lookup failed: {exc}") from exc
        if not isinstance(body, dict):
            raise CrmError("CRM answered something other than a JSON object")
        return body

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


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
        self.router: Router | None = (
            Router(load_routes(settings.effective_routes_file))
            if settings.routing_mode == "skills"
            else None
        )
        self.core = CallCenter(
            QUEUES,
            self.router,
            settings.callback_attempts,
            settings.callback_order,
            settings.callback_customer_ring_s,
            settings.callback_policy,  # which numbers a call-back may dial (issue 14)
        )
        self._routing_timer: asyncio.TimerHandle | None = None
        # try numbers in call-back channel ids: unique across restarts too
        self._callback_ids = itertools.count(int(time.time()))
        self.ami_actions: asyncio.Queue[fx.Effect] = asyncio.Queue()
        self.synced = asyncio.Event()  # set after each resync, cleared on disconnect
        self._customers: dict[str, asyncio.Task[Customer | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.backfill: asyncio.Task[int] | None = None
        # one writer, in order: CDRs (with the customer's id) and pending call-backs
        # bounded; a refused record is set aside, never retried forever (cti/db/cdr_store.py)
        self.dead_letters = DeadLetters(repository, settings.dead_letter_file)
        self.cdr_queue: asyncio.Queue[tuple[CallDetailRecord, int | None] | CallbackWrite] = (
            SpillingQueue(settings.cdr_queue_max, spill_to(self.dead_letters))
        )
        self._callback_saved: dict[str, asyncio.Future[None]] = {}
        self._callbacks_deferred = False
        # Agent desktop: what a screen-pop shows besides the call and customer.
        self.crm: CrmLookup | None = (
            HttpCrm(
                settings.crm_url,
                settings.crm_timeout_s,
                settings.crm_bearer_token.get_secret_value(),
            )
            if settings.crm_url
            else None
        )
        self.agent_names: dict[str, str] = {}
        self._context: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._popped: dict[str, set[str]] = {}  # call id -> agents that got its pop
        self._transfers: dict[str, dict[str, Any]] = {}  # call id -> last blind transfer
        # Dispositions given before the CDR row exists, stored with it; CDRs
        # handed to the writer and not committed yet (call id -> agent).
        self._dispositions: dict[str, AgentDisposition] = {}
        self._cdr_in_flight: dict[str, str | None] = {}
        self._wrap: dict[str, dict[str, Any]] = {}  # agent -> last call without disposition

    async def load_agents(self) -> None:
        for user in await self.repository.agents():
            self.agent_names[user.username] = user.display_name or user.username
            self.core.register_agent(
                user.username,
                user.interface or f"PJSIP/agent{user.username}",
                user.queue_list,
                user.wrap_up_s,
                skills=user.skill_levels,
                at=self.clock(),
            )
            if self.router is not None and not user.skill_levels:
                log.warning(
                    "agent %s has no routing skills (users.skills): the router will never "
                    "offer it a call",
                    user.username,
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
                        if isinstance(event, ev.CallWaiting):
                            event = self._with_tier(event)
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

    def queue_estimate(self, call_id: str) -> QueueEstimate | None:
        """Place in line and expected wait of a waiting caller (the IVR announces it)."""
        return self.core.queue_estimate(call_id, self.clock())

    def _with_tier(self, event: ev.CallWaiting) -> ev.CallWaiting:
        """The customer's tier, when the lookup started at call start has finished.

        Never waits: the lookup began when the call arrived, seconds before
        the IVR ends, so it is nearly always done; if not, the call is routed
        as standard rather than held back.
        """
        task = self._customers.get(event.call_id)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return event
        customer = task.result()
        if customer is None or not customer.tier:
            return event
        return dataclasses.replace(event, tier=customer.tier)

    async def run_heartbeat(self) -> None:
        """Tell the dialplan the CTI routes calls (global HOTLINE_CTI_ALIVE).

        Waiting callers check it; if it goes stale they are given to app_queue.
        """
        if self.router is None:
            return
        while True:
            if self.synced.is_set():
                try:
                    await self._set_alive(str(int(time.time())))
                except AmiError as exc:
                    log.warning("CTI heartbeat not written: %s", exc)
            await asyncio.sleep(self.settings.cti_heartbeat_s)

    async def stop_routing(self) -> None:
        """On shutdown: waiting callers go to app_queue now, not after the grace time."""
        if self.router is None or not self.synced.is_set():
            return
        try:
            await asyncio.wait_for(self._set_alive(""), timeout=2.0)
        except (AmiError, TimeoutError) as exc:
            log.warning("could not hand waiting callers to app_queue: %s", exc)

    async def _set_alive(self, value: str) -> None:
        await self.ami.action({"Action": "Setvar", "Variable": CTI_ALIVE_VARIABLE, "Value": value})

    async def resync(self) -> None:
        """Rebuild our view from Asterisk after every (re)connect."""
        snapshot = await self.pbx_snapshot()
        if self.router is not None:
            await self._set_alive(str(int(time.time())))  # before waiting callers give up on us
            for name, value in (
                ("HOTLINE_ANNOUNCE_FIRST", self.settings.announce_first_s),
                ("HOTLINE_ANNOUNCE_EVERY", self.settings.announce_every_s),
            ):
                await self.ami.action(
                    {"Action": "Setvar", "Variable": name, "Value": str(max(0, round(value)))}
                )
        if self.router is not None:
            self.carry_out(await self.restore_callbacks())
        self.carry_out(self.core.reconcile(snapshot, self.clock()))
        self.synced.set()
        self.backfill = self._spawn(self.recover_cdrs())
        log.info("resynced: %d calls, %d queue members", len(snapshot.calls), len(snapshot.members))

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
            path = self.settings.asterisk_cdr_file or runtime.cdr_file(self.settings)
            try:
                talked = await asyncio.to_thread(read_callback_talks, path, in_flight)
            except OSError as exc:
                log.warning("cannot read Asterisk's CDR file %s: %s", path, exc)
        if under_way and not self._callbacks_deferred:
            self._callbacks_deferred = True
            self._spawn(self._restore_callbacks_later())
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

    async def recover_cdrs(self) -> int:
        """Store CDRs of hotline calls that ended while we were not connected."""
        path = self.settings.asterisk_cdr_file or runtime.cdr_file(self.settings)
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
                self.router is not None
                and ch.get("Context") in (WAIT_CONTEXT, OFFER_CONTEXT)
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
                    ivr_path=known.get("HOTLINE_IVR_PATH", ""),
                    chosen_queue=known.get("HOTLINE_QUEUE") or None,
                    recording_path=known.get("HOTLINE_RECORDING") or None,
                )
            )
        return PbxSnapshot(tuple(calls), tuple(members), tuple(queues), tuple(waiting))

    async def _waiting_from_pbx(
        self, channel: str, call_id: str, now: float
    ) -> ev.CallWaiting | None:
        """A caller found waiting for the router after a (re)connect."""
        try:
            routing = await self.ami.action(
                {"Action": "Getvar", "Channel": channel, "Variable": "HOTLINE_ROUTING"}
            )
            since = await self.ami.action(
                {"Action": "Getvar", "Channel": channel, "Variable": "HOTLINE_WAIT_SINCE"}
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
                case (
                    fx.AddQueueMember()
                    | fx.RemoveQueueMember()
                    | fx.PauseQueueMember()
                    | fx.OfferCall()
                    | fx.WithdrawOffer()
                ):
                    self.ami_actions.put_nowait(effect)
                case fx.ScheduleRoutingTimer(at=at):
                    self._schedule_routing_timer(at)
                case fx.PlaceCallback():
                    self._spawn(self._place_callback(effect))
                case fx.PublishScreenPop(agent_id=agent_id, call=call):
                    self._screen_pop(agent_id, call)
                case fx.PublishAgentState(agent=agent):
                    data = self.agent_view(agent)
                    self.hub.to_user(agent.agent_id, "agent.state", data)
                    self.hub.to_supervisors("agent.state", data)
                case fx.PublishCallUpdate(call=call):
                    if call.state is CallState.ENDED:
                        self._call_ended(call)
                    else:
                        self._start_lookups(call)
                    self.hub.to_supervisors("call.update", call_json(call))
                case fx.SaveCallback(callback=callback):
                    saved = asyncio.get_running_loop().create_future()
                    self._callback_saved[callback.call_id] = saved
                    self.cdr_queue.put_nowait(CallbackWrite(callback, saved))
                case fx.StoreCdr(cdr=cdr):
                    self._cdr_in_flight[cdr.call_id] = cdr.agent_id
                    if cdr.agent_id and cdr.answered_at is not None:
                        if cdr.call_id in self._dispositions:
                            self._wrap.pop(cdr.agent_id, None)
                        else:
                            self._wrap[cdr.agent_id] = wrap_json(cdr)
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
            case fx.OfferCall():
                # the dialplan's Dial() gets 2 s more than the router's ring
                # timeout, so the router's RONA (which withdraws) always leads
                ring = max(1, round(effect.ring_timeout_s)) + 2
                offer = f"{effect.agent_id}|{effect.interface}|{ring}"
                await self.ami.action(
                    {
                        "Action": "Setvar",
                        "Channel": effect.channel,
                        "Variable": OFFER_VARIABLE,
                        "Value": offer,
                    }
                )
                await self._redirect(effect.channel, OFFER_CONTEXT, "s")
                log.info("offered call %s to agent %s", effect.call_id, effect.agent_id)
            case fx.WithdrawOffer():
                await self._redirect(effect.channel, WAIT_CONTEXT, "requeue")

    async def _place_callback(self, effect: fx.PlaceCallback) -> None:
        """Place a call-back with an async Originate, matched back by its channel id.

        Agent first: the agent is rung (1 s less than the router's ring
        timeout, so a ring-out is always reported by Asterisk first and an
        agent never answers a withdrawn offer), then ``[hotline-callback]``
        dials the customer through the trunk. Customer first: the customer is
        dialled through the trunk, then ``[hotline-callback-customer]`` rings
        the agent.
        """
        saved = self._callback_saved.get(effect.call_id)
        if saved is not None:
            # the database knows this try is under way before the phone rings: a
            # restart in between looks the try up instead of calling twice
            await asyncio.shield(saved)
        ring_s = max(1.0, effect.ring_timeout_s - 1.0)
        customer_first = effect.order == "customer-first"
        first = "customer" if customer_first else "agent"
        variables = ",".join(
            (
                f"HOTLINE_CALLBACK_OF={effect.call_id}",
                f"HOTLINE_CALLBACK_AGENT={effect.agent_id}",
                f"HOTLINE_CALLBACK_NUMBER={effect.number}",
                f"HOTLINE_CALLBACK_INTERFACE={effect.interface}",
                f"HOTLINE_CALLBACK_RING={round(ring_s)}",
                f"HOTLINE_CALLBACK_LANGUAGE={effect.language}",
            )
        )
        trunk = self.settings.trunk_host
        if customer_first:
            channel, context = f"PJSIP/trunk/sip:{effect.number}@{trunk}", CALLBACK_CUSTOMER_CONTEXT
            timeout_s = effect.customer_ring_s
        else:
            channel, context, timeout_s = effect.interface, CALLBACK_CONTEXT, ring_s
        try:
            if customer_first and not trunk:
                raise AmiError("no trunk_host configured: cannot dial the customer")
            await self.ami.action(
                {
                    "Action": "Originate",
                    "Channel": channel,
                    "ChannelId": callback_channel_id(
                        effect.call_id, effect.agent_id, first, next(self._callback_ids)
                    ),
                    "Context": context,
                    "Exten": "s",
                    "Priority": "1",
                    "Timeout": str(int(timeout_s * 1000)),
                    "CallerID": f'"Call-back" <{effect.number}>',
                    "Variable": variables,
                    "Async": "true",
                }
            )
            log.info(
                "call-back %s: ringing the %s (agent %s)", effect.call_id, first, effect.agent_id
            )
        except AmiError as exc:
            log.warning("call-back %s: cannot ring the %s: %s", effect.call_id, first, exc)
            state = "customer-failed" if customer_first else "agent-failed"
            failed = ev.CallbackProgress(effect.call_id, effect.agent_id, state, self.clock())
            self.carry_out(self.core.apply(failed))

    async def _redirect(self, channel: str, context: str, exten: str, tries: int = 5) -> None:
        """AMI Redirect, retried briefly: Asterisk refuses a Redirect ("channel not
        up") while the channel still carries out the previous one."""
        for attempt in range(tries):
            try:
                await self.ami.action(
                    {
                        "Action": "Redirect",
                        "Channel": channel,
                        "Context": context,
                        "Exten": exten,
                        "Priority": "1",
                    }
                )
                return
            except AmiError as exc:
                if "not up" not in str(exc) or attempt == tries - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))

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

    def _start_lookups(self, call: CallSnapshot) -> None:
        """When a call arrives: customer, last calls, external CRM (in the background)."""
        if call.call_id not in self._customers:
            self._customers[call.call_id] = self._spawn(
                self.repository.customer_by_phone(call.caller_number)
            )
        if call.call_id not in self._context:
            self._context[call.call_id] = self._spawn(self._lookup_context(call.caller_number))

    async def _lookup_context(self, number: str) -> dict[str, Any]:
        """The caller's last calls (cdr table) and the external CRM record."""
        history, crm = await asyncio.gather(self._history(number), self._crm(number))
        return {"history": history, "crm": crm}

    async def _history(self, number: str) -> list[dict[str, Any]] | None:
        if not number:
            return []
        try:
            rows = await self.repository.recent_calls(number, self.settings.pop_history_limit)
        except Exception:
            log.exception("last calls of %s could not be read", number)
            return None
        return [history_json(row) for row in rows]

    async def _crm(self, number: str) -> dict[str, Any]:
        if self.crm is None:
            return {"status": "off", "record": None}
        if not number:
            return {"status": "not_found", "record": None}
        try:
            async with asyncio.timeout(self.settings.crm_timeout_s):
                record = await self.crm.lookup(number)
        except TimeoutError:
            message = f"CRM did not answer within {self.settings.crm_timeout_s:g} s"
            log.warning("CRM lookup of %s: %s", number, message)
            return {"status": "error", "record": None, "message": message}
        except Exception as exc:
            log.warning("CRM lookup of %s failed: %s", number, exc)
            return {"status": "error", "record": None, "message": str(exc)[:200]}
        if record is None:
            return {"status": "not_found", "record": None}
        return {"status": "ok", "record": record}

    def pop_json(self, call: CallSnapshot) -> tuple[dict[str, Any], bool]:
        """The screen-pop of a call from what is looked up already; True if complete.

        Never waits: what is not there yet is marked pending (``customer_pending``,
        ``context_pending``) and a ``screen.pop`` update follows.
        """
        data = call_json(call)
        data["verified"] = False  # identity verification comes with the IVR
        data["transfer"] = self._transfers.get(call.call_id)
        lookup = self._customers.get(call.call_id)
        if lookup is not None and lookup.done():
            failed = lookup.cancelled() or lookup.exception() is not None
            data["customer"] = customer_json(None if failed else lookup.result())
            data["customer_pending"] = False
        else:
            data["customer"], data["customer_pending"] = None, True
        context = self._context.get(call.call_id)
        if context is not None and context.done() and not context.cancelled():
            if context.exception() is None:
                data |= context.result()
            else:
                data |= {"history": None, "crm": {"status": "error", "record": None}}
            data["context_pending"] = False
        else:
            data["history"], data["crm"] = [], {"status": "pending", "record": None}
            data["context_pending"] = True
        return data, not (data["customer_pending"] or data["context_pending"])

    def _screen_pop(self, agent_id: str, call: CallSnapshot) -> None:
        """Pop at once; never wait on the database or the CRM in this path.

        The customer, the last calls and the CRM record were looked up when the
        call arrived (seconds earlier, during the IVR). If a lookup is somehow
        not done yet, the pop goes out marked pending and an update follows.
        """
        self._popped.setdefault(call.call_id, set()).add(agent_id)
        self._start_lookups(call)  # normally started when the call arrived
        data, complete = self.pop_json(call)
        self.hub.to_user(agent_id, "screen.pop", data)
        if not complete:
            self._spawn(self._complete_screen_pop(agent_id, call))

    async def _complete_screen_pop(self, agent_id: str, call: CallSnapshot) -> None:
        await self.customer_for(call)
        context = self._context.get(call.call_id)
        if context is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(context)
        # only while the call is still the agent's (never resurrect a finished pop)
        live = self.core.calls.get(call.call_id)
        agent = self.core.agents.get(agent_id)
        transfer = self._transfers.get(call.call_id) or {}
        if live is None or agent is None:
            return
        if agent.call_id != call.call_id and transfer.get("to") != agent_id:
            return
        self.hub.to_user(agent_id, "screen.pop", self.pop_json(live.snapshot(self.clock()))[0])

    def _call_ended(self, call: CallSnapshot) -> None:
        """Tell every agent whose page popped the call that it is over."""
        self._transfers.pop(call.call_id, None)
        for agent_id in self._popped.pop(call.call_id, set()):
            self.hub.to_user(
                agent_id,
                "call.ended",
                {
                    "call_id": call.call_id,
                    "agent_id": call.agent_id,
                    "answered": call.answered_at is not None,
                },
            )

    # ------------------------------------------------------------ agent desktop
    def agent_view(self, agent: AgentSnapshot) -> dict[str, Any]:
        """An agent's state as the desktop shows it (seconds relative to now)."""
        now = self.clock()
        data = agent_json(agent)
        data["name"] = self.agent_names.get(agent.agent_id, agent.agent_id)
        data["since_s"] = round(max(0.0, now - agent.state_since), 3)
        if agent.state is AgentState.WRAP_UP:
            live = self.core.agents.get(agent.agent_id)
            wrap_up_s = live.wrap_up_s if live is not None else 0.0
            data["wrap_up_left_s"] = round(max(0.0, agent.state_since + wrap_up_s - now), 3)
        return data

    def wrap_call(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's last answered call that has no disposition yet (for a resync)."""
        return self._wrap.get(agent_id)

    def _own_call(self, agent_id: str, call_id: str) -> CallSnapshot:
        """The call ``call_id`` if ``agent_id`` is talking on it; refuses otherwise."""
        call = self.core.calls.get(call_id)
        if call is None:
            raise CallActionRefused(404, "no_such_call", f"call {call_id} is not in progress")
        agent = self.core.agents.get(agent_id)
        if (
            agent is None
            or agent.call_id != call_id
            or call.agent_id != agent_id
            or call.state is not CallState.TALKING
        ):
            raise CallActionRefused(
                403, "not_your_call", f"call {call_id} is not a call you are talking on"
            )
        return call.snapshot(self.clock())

    async def hangup_call(self, agent_id: str, call_id: str) -> None:
        """Hang up the agent's current call (AMI Hangup of the caller's channel)."""
        call = self._own_call(agent_id, call_id)
        channel = self.core.calls[call_id].channel
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiError as exc:
            raise CallActionRefused(
                502, "pbx_error", f"Asterisk refused the hang-up: {exc}"
            ) from exc
        log.info("agent %s hung up call %s (%s)", agent_id, call.call_id, channel)

    async def transfer_call(self, agent_id: str, call_id: str, kind: str, target: str) -> None:
        """Blind transfer of the agent's current call to a queue or a ready agent.

        The caller's channel is sent with AMI Redirect: to the Queue() step of
        the hotline dialplan (``HOTLINE_QUEUE`` set first), or to the target
        agent's extension in ``[agents]``. Asterisk then hangs up the agent's
        leg without an AgentComplete event, so the agent's part of the call is
        closed here (wrap-up or ready) once Asterisk accepted the Redirect.
        """
        self._own_call(agent_id, call_id)
        channel = self.core.calls[call_id].channel
        if kind == "queue":
            if target not in self.core.queues:
                raise CallActionRefused(400, "unknown_target", f"there is no queue {target!r}")
        elif kind == "agent":
            other = self.core.agents.get(target)
            if other is None or target == agent_id or not target.isdigit():
                raise CallActionRefused(
                    400, "unknown_target", f"there is no other agent {target!r}"
                )
            if other.state is not AgentState.READY:
                raise CallActionRefused(
                    409, "target_unavailable", f"agent {target} is not ready ({other.state})"
                )
        else:
            raise CallActionRefused(400, "bad_request", "transfer to a 'queue' or an 'agent'")
        try:
            if kind == "queue":
                for variable, value in (("HOTLINE_QUEUE", target), ("HOTLINE_PRODUCT", "")):
                    await self.ami.action(
                        {
                            "Action": "Setvar",
                            "Channel": channel,
                            "Variable": variable,
                            "Value": value,
                        }
                    )
                self._own_call(agent_id, call_id)  # still on it after the awaits
                redirect = {"Context": WAIT_CONTEXT, "Exten": "s", "Priority": "1"}
            else:
                redirect = {"Context": AGENTS_CONTEXT, "Exten": target, "Priority": "1"}
            # known before the new agent's pop, which may come before the reply
            previous = self._transfers.get(call_id)
            self._transfers[call_id] = {"from": agent_id, "to": target, "kind": kind}
            try:
                await self.ami.action({"Action": "Redirect", "Channel": channel, **redirect})
            except AmiError:
                if previous is None:
                    self._transfers.pop(call_id, None)
                else:
                    self._transfers[call_id] = previous
                raise
        except AmiError as exc:
            raise CallActionRefused(
                502, "pbx_error", f"Asterisk refused the transfer: {exc}"
            ) from exc
        log.info("agent %s transferred call %s to %s %s", agent_id, call_id, kind, target)
        now = self.clock()
        self.carry_out(self.core.apply(ev.AgentCallCompleted(call_id, agent_id, now)))
        live = self.core.calls.get(call_id)
        if kind == "agent" and live is not None:
            # the dialplan rings the agent directly (no queue): the CTI pops it
            self._screen_pop(target, live.snapshot(now))

    async def save_disposition(self, agent_id: str, call_id: str, code: str, notes: str) -> str:
        """Record the agent's disposition of a call; 'stored' or 'pending'.

        The CDR row is written when the call ends (by the batched writer), so
        a disposition given during the call, or in the moment between its end
        and the CDR commit, is kept here and written in the CDR's own
        transaction ('pending'). Later ones update the row ('stored'). Only
        the agent who answered the call may give it.
        """
        chosen = AgentDisposition(agent_id, code, notes)
        live = self.core.calls.get(call_id)
        transfer = self._transfers.get(call_id)
        if live is not None and transfer is not None and transfer["from"] == agent_id:
            raise CallActionRefused(
                409,
                "transferred",
                f"you transferred call {call_id}: its disposition is the next agent's",
            )
        if live is not None or call_id in self._cdr_in_flight:
            owner = live.agent_id if live is not None else self._cdr_in_flight[call_id]
            if owner != agent_id:
                raise CallActionRefused(
                    403, "not_your_call", f"call {call_id} was not answered by you"
                )
            # durable before it is answered: a restart does not lose it
            await self.repository.save_pending_disposition(call_id, chosen, self.clock())
            self._dispositions[call_id] = chosen
            self._forget_wrap(agent_id, call_id)
            return "pending"
        if not await self.repository.set_agent_disposition(call_id, agent_id, code, notes):
            raise CallActionRefused(
                403, "not_your_call", f"call {call_id} is not a call answered by you"
            )
        self._forget_wrap(agent_id, call_id)
        return "stored"

    def _forget_wrap(self, agent_id: str, call_id: str) -> None:
        wrap = self._wrap.get(agent_id)
        if wrap is not None and wrap["call_id"] == call_id:
            del self._wrap[agent_id]

    def _take_dispositions(self, call_ids: list[str]) -> dict[str, AgentDisposition]:
        return {cid: self._dispositions.pop(cid) for cid in call_ids if cid in self._dispositions}

    async def close(self) -> None:
        """Release what the desktop opened (the CRM's HTTP client)."""
        close = getattr(self.crm, "close", None)
        if close is not None:
            await close()

    async def _store_cdr(self, cdr: CallDetailRecord) -> None:
        self._context.pop(cdr.call_id, None)
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
        if cdr.voicemail_path:
            try:
                voicemail = host_path(
                    self.settings.recordings_dir, cdr.voicemail_path, VOICEMAIL_FOLDER
                )
                cdr = dataclasses.replace(cdr, voicemail_path=str(voicemail))
            except RecordingPathError:
                log.warning(
                    "call %s: voicemail outside the catalogue: %s", cdr.call_id, cdr.voicemail_path
                )
        self.cdr_queue.put_nowait((cdr, customer.id if customer else None))

    async def run_cdr_writer(self) -> None:
        """One writer: CDRs are committed in batches.

        A database outage (locked, full, unreachable) is retried with backoff,
        the batch in hand; a record the database refuses is set aside in the
        dead-letter table and the rest stored (cti/db/cdr_store.py). What a
        crash loses is recovered from Asterisk's CDR file on restart.
        """
        while True:
            items = [await self.cdr_queue.get()]
            while not self.cdr_queue.empty() and len(items) < 500:
                items.append(self.cdr_queue.get_nowait())
            batch = [item for item in items if isinstance(item, tuple)]
            writes = [item for item in items if isinstance(item, CallbackWrite)]
            call_ids = [cdr.call_id for cdr, _ in batch]
            # the last state of each pending call-back, unless its call just ended
            # (storing the CDR removes it)
            latest = {w.callback.call_id: w.callback for w in writes}
            callbacks = [cb for call_id, cb in latest.items() if call_id not in call_ids]
            # dispositions given before the CDR existed go into its transaction
            dispositions = self._take_dispositions(call_ids)
            # the database's own failures are retried; a record it refuses is set
            # aside (dead letter) and the rest stored (cti/db/cdr_store.py)
            await store_callbacks(self.repository, callbacks, self.dead_letters)
            await store_cdrs(self.repository, batch, dispositions, self.dead_letters)
            for write in writes:
                if not write.saved.done():
                    write.saved.set_result(None)
                if self._callback_saved.get(write.callback.call_id) is write.saved:
                    del self._callback_saved[write.callback.call_id]
            # ... and those given while it was being written, right after it
            while late := self._take_dispositions(call_ids):
                for call_id, chosen in late.items():
                    await self._store_late_disposition(call_id, chosen)
            for call_id in call_ids:
                self._cdr_in_flight.pop(call_id, None)
            for _ in items:
                self.cdr_queue.task_done()

    async def _store_late_disposition(self, call_id: str, chosen: AgentDisposition) -> None:
        delay = 0.2
        while True:
            try:
                await self.repository.set_agent_disposition(
                    call_id, chosen.agent_id, chosen.code, chosen.notes
                )
                return
            except Exception:
                log.exception("storing the disposition of %s failed; retrying", call_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _schedule_wrap_up_end(self, agent_id: str, at: float) -> None:
        old = self._timers.pop(agent_id, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock())
        loop = asyncio.get_running_loop()
        self._timers[agent_id] = loop.call_later(
            delay, lambda: self.carry_out(self.core.end_wrap_up(agent_id, self.clock()))
        )

    def _schedule_routing_timer(self, at: float) -> None:
        if self._routing_timer is not None:
            self._routing_timer.cancel()
        delay = max(0.0, at - self.clock())
        log.debug("routing timer in %.3f s", delay)
        self._routing_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self.carry_out(self.core.routing_timer(self.clock()))
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


@dataclasses.dataclass(frozen=True, slots=True)
class CallbackWrite:
    """A pending call-back for the writer; ``saved`` is done once it is committed."""

    callback: PendingCallback
    saved: asyncio.Future[None]


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


def wrap_json(cdr: CallDetailRecord) -> dict[str, Any]:
    return {
        "call_id": cdr.call_id,
        "caller_number": cdr.caller_number,
        "caller_name": cdr.caller_name,
        "queue": cdr.queue,
        "ended_at": cdr.ended_at,
        "talk_s": round(cdr.talk_s, 3),
    }


def history_json(row: CallRecord) -> dict[str, Any]:
    return {
        "call_id": row.call_id,
        "at": row.entered_at.timestamp() if row.entered_at else None,
        "queue": row.queue,
        "agent_id": row.agent_id,
        "result": row.disposition,
        "talk_s": row.talk_s,
        "disposition": row.agent_disposition,
        "notes": row.agent_notes,
    }


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
