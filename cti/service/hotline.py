"""The coordinator: builds the service's parts and runs them under one TaskGroup.

``Hotline`` owns one ``CallCenter`` (pure) and hands each of its effects to
the part that carries it out: AMI writes to :mod:`pbx_actions`, pops and
agent states to :mod:`desktop`, CDRs and call-backs to :mod:`records`,
call-back dials to :mod:`callbacks`, and every batch to the wallboard
(:mod:`cti.wallboard`: live KPIs, the state log, alarms). AMI events are
consumed by one task, in order; a (re)connect runs :mod:`resync`. Web
commands come in through :mod:`facade`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cti import dialplan
from cti.ami.client import AmiClient, Connected, Disconnected
from cti.ami.translate import translate
from cti.config import Settings
from cti.crisis.switch import CrisisSwitch
from cti.db.cdr_store import drain_within
from cti.db.repository import Repository
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.domain.callcenter import CallCenter, QueueEstimate
from cti.metrics import ServiceMetrics
from cti.qa.escalation import Escalations
from cti.qa.recording_pause import RecordingPauses
from cti.qa.scorecard import DEFAULT_SCORECARD, load_scorecard
from cti.qa.store import QaStore
from cti.routing import Router
from cti.routing.config import load_routes
from cti.service.call_control import CallActions
from cti.service.callbacks import CallbackDialer
from cti.service.desktop import Desktop
from cti.service.facade import DeskFacade
from cti.service.heartbeat import Heartbeat
from cti.service.loop_watch import LoopWatch
from cti.service.pbx_actions import PbxActions
from cti.service.qa import QaFacade
from cti.service.records import Records
from cti.service.resync import Resync
from cti.service.supervision import SupervisorFacade
from cti.service.tasks import TaskOwner
from cti.service.views import call_json
from cti.wallboard.feature import Wallboard
from cti.web.hub import Hub

log = logging.getLogger(__name__)

QUEUES = ("general", "billing", "technical", "account")


class Hotline:
    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        ami: AmiClient,
        hub: Hub,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.repository, self.ami, self.hub = settings, repository, ami, hub
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
            settings.callback_policy,  # which numbers a call-back may dial
        )
        self.tasks = TaskOwner()
        self.actions = PbxActions(ami, settings.pbx_action_queue_max)
        self.heartbeat = Heartbeat(self.actions, settings.cti_heartbeat_s, asyncio.Event())
        self.synced = self.heartbeat.synced  # set after each resync, cleared on disconnect
        self.resync = Resync(
            settings,
            ami,
            self.actions,
            self.heartbeat,
            self.core,
            repository,
            self.tasks,
            self.carry_out,
            clock,
        )
        self.desktop = Desktop(settings, self.core, repository, hub, self.tasks, clock)
        self.records = Records(settings, repository, self.desktop)
        self.callbacks = CallbackDialer(
            settings.trunk_host, self.actions, self.records, self.apply, clock
        )
        # KPIs, the agent state log and alarms (raises KpiConfigError on a bad wallboard file)
        self.wallboard = Wallboard(
            settings, self.core, repository.engine, hub, self.desktop.agent_name, clock
        )
        self.calls = CallActions(
            self.core,
            self.actions,
            self.records,
            self.carry_out,
            clock,
            on_disposition=self.wallboard.disposition,
        )
        # QA: the agent's recording pause, the QA page's store and scorecard
        qa_store = QaStore(repository.engine)
        self.recording_pauses = RecordingPauses(self.core, self.actions, qa_store, clock)
        self.desk = DeskFacade(self)
        self.metrics = ServiceMetrics(self, clock)  # Prometheus figures (cti.metrics)
        self.supervision = SupervisorFacade(self)  # supervisors: monitor, staffing, audit
        # the crisis switch: another flow, routes or an announcement for new calls
        self.crisis = CrisisSwitch(settings, self.router, hub, self.supervision.audit, clock)
        self.qa = QaFacade(
            qa_store,
            load_scorecard(settings.qa_scorecard_file or DEFAULT_SCORECARD),
            settings.recordings_dir,
            clock,
            self.supervision.audit,  # listens, downloads, transcript views
            settings.qa_sample_percent,  # the spot-check sample's share of calls
        )
        # red-flag tags stored by the transcription workers -> supervisors, webhook;
        # every rule tag -> the wallboard's qa_red_flags alarms
        self.escalations = Escalations(
            qa_store, hub, self.wallboard.webhook, settings.escalation_poll_s, self.wallboard
        )
        self.loop_watch = LoopWatch(settings.loop_stall_warn_s)  # stalls of the loop, logged
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._routing_timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self.started = asyncio.Event()

    async def load_agents(self) -> None:
        for user in await self.repository.agents():
            self.desktop.agent_names[user.username] = user.display_name or user.username
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

    # ------------------------------------------------------------ running
    async def run(self, *, ami_connect_retries: int | None = 3, follow_ami: bool = True) -> None:
        """Run every long-lived task in one TaskGroup until :meth:`stop`.

        A fatal task that fails (the AMI connection giving up, a worker
        crashing) ends the group and so this coroutine, with its error.
        Without ``follow_ami`` (tests), AMI is neither connected nor followed.
        """
        self._stop.clear()
        async with asyncio.TaskGroup() as group:
            self.tasks.attach(group)
            try:
                await self.wallboard.read_back()  # today so far, before any event
                await self.crisis.restore()  # the crisis profile on before a restart
                self.wallboard.start(self.tasks)
                follow = []
                if follow_ami:
                    follow = [
                        self.tasks.start(
                            self.ami.run(first_connect_retries=ami_connect_retries), "ami"
                        ),
                        self.tasks.start(self.consume_ami(), "ami-consumer"),
                    ]
                    if self.router is not None:
                        follow.append(self.tasks.start(self.heartbeat.run(), "cti-heartbeat"))
                await self.escalations.prime()  # tags stored so far were escalated before
                follow.append(self.tasks.start(self.escalations.run(), "qa-escalations"))
                follow.append(self.tasks.start(self.loop_watch.run(), "loop-watch"))
                worker = self.tasks.start(self.actions.run(), "ami-actions")
                writer = self.tasks.start(self.records.run_writer(), "cdr-writer")
                self.started.set()
                await self._stop.wait()
                # stop taking events first, then finish what they started (pops,
                # CDR writes) while the writers still run
                if self.router is not None:
                    await self.heartbeat.stop_routing()
                for task in follow:
                    task.cancel()
                await asyncio.gather(*follow, return_exceptions=True)
                self.resync.stop()
                self._cancel_timers()
                if follow_ami:
                    follow_ami = False  # closed once
                    await self.ami.close()
                await self.wallboard.stop()  # its state log and alarms written
                # bounded: a database that hangs must not hang the shutdown
                await drain_within(
                    self.drain,
                    self.records.queue,
                    self.records.dead_letters,
                    self.settings.shutdown_drain_s,
                )
                worker.cancel()
                writer.cancel()
            finally:
                self._cancel_timers()
                self.wallboard.cancel_push()
                if follow_ami:  # the service failed before closing AMI
                    await self.ami.close()
                await self.desktop.close()  # the CRM's HTTP client, once nothing pops
                self.tasks.detach()
                self.started.clear()

    def stop(self) -> None:
        """Ask :meth:`run` to finish (it hands waiting callers over and drains)."""
        self._stop.set()

    async def drain(self) -> None:
        """Wait for spawned work (pops, CDR writes) to finish: for shutdown and tests."""
        await self.tasks.settle()
        await self.records.queue.join()

    # ------------------------------------------------------------ AMI events
    async def consume_ami(self) -> None:
        """The one consumer of AMI events: translate, apply, carry out."""
        while True:
            item = await self.ami.events.get()
            try:
                if isinstance(item, Connected):
                    await self.resync.resync()
                elif isinstance(item, Disconnected):
                    self.synced.clear()
                else:
                    now = self.clock()
                    for event in translate(item, now, dialplan.INBOUND_CONTEXTS):
                        if isinstance(event, ev.CallWaiting):
                            event = self.desktop.with_tier(event)
                        self.carry_out(self.core.apply(event))
                    self.metrics.lag.handled(item, now)
            except Exception:
                log.exception("failed to handle AMI item %r", item)

    @property
    def backfill(self) -> asyncio.Task[int | None] | None:
        """The CDR recovery started by the last resync."""
        return self.resync.backfill

    def queue_estimate(self, call_id: str) -> QueueEstimate | None:
        """Place in line and expected wait of a waiting caller (the IVR announces it)."""
        return self.core.queue_estimate(call_id, self.clock())

    # ------------------------------------------------------------ effects
    def apply(self, event: ev.DomainEvent) -> None:
        """Apply a domain event the service itself observed, and carry out its effects."""
        self.carry_out(self.core.apply(event))

    def carry_out(self, effects: list[fx.Effect]) -> None:
        self.wallboard.observe(effects)
        for effect in effects:
            match effect:
                case (
                    fx.AddQueueMember()
                    | fx.RemoveQueueMember()
                    | fx.PauseQueueMember()
                    | fx.OfferCall()
                    | fx.WithdrawOffer()
                ):
                    self.actions.carry_out(effect)
                case fx.ScheduleRoutingTimer(at=at):
                    self._schedule_routing_timer(at)
                case fx.PlaceCallback():
                    self.tasks.spawn(self.callbacks.place(effect), f"callback-{effect.call_id}")
                case fx.PublishScreenPop(agent_id=agent_id, call=call):
                    self.desktop.screen_pop(agent_id, call)
                case fx.PublishAgentState(agent=agent):
                    self.desktop.publish_agent(agent)
                case fx.PublishCallUpdate(call=call):
                    self.desktop.call_updated(call)
                    self.hub.to_supervisors("call.update", call_json(call))
                case fx.SaveCallback(callback=callback):
                    self.records.save_callback(callback)
                case fx.StoreCdr(cdr=cdr):
                    self.records.cdr_ended(cdr)
                    self.tasks.spawn(self.records.store_cdr(cdr), f"cdr-{cdr.call_id}")
                case fx.ScheduleWrapUpEnd(agent_id=agent_id, at=at):
                    self._schedule_wrap_up_end(agent_id, at)

    # ------------------------------------------------------------ timers
    def _schedule_wrap_up_end(self, agent_id: str, at: float) -> None:
        old = self._timers.pop(agent_id, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock())
        self._timers[agent_id] = asyncio.get_running_loop().call_later(
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

    def _cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._routing_timer is not None:
            self._routing_timer.cancel()
            self._routing_timer = None
