"""The wallboard feature: live KPIs from the core's effects, pushed to
supervisors; the agent state log and alarms written by one batched writer;
alarms sent to the webhook; reports read from storage.

Wiring (``cti.service.hotline``): the coordinator makes one ``Wallboard``,
hands it every batch of effects it carries out (``observe``), gives
``call_control`` its ``disposition`` as the callback for agents'
dispositions, reads today back and starts its tasks (writer, clock, webhook)
in the service's TaskGroup when it runs (``read_back``, ``start``), and
stops it, flushing the writer, at shutdown (``stop``). The web reaches it
only through ``cti.service.facade.DeskFacade`` (``cti.web.wallboard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cti.domain import effects as fx
from cti.domain.model import AgentState
from cti.kpi.alarms import Alarm, AlarmEngine, live_measure
from cti.kpi.calendar import Calendar
from cti.kpi.facts import StateChange
from cti.kpi.live import LiveKpis
from cti.kpi.options import ALL_CALLS, KpiConfigError, WallboardConfig, parse_config
from cti.kpi.red_flags import RedFlagLog, TagSeen, check_tags, named_tags, rule_since
from cti.kpi.report import (
    Group,
    call_report,
    session_report,
    wait_distribution,
)
from cti.wallboard.board import BoardBuilder
from cti.wallboard.delta import HeldBoard, NotADelta
from cti.wallboard.store import WallboardStore
from cti.wallboard.webhook import AlarmWebhook
from recordings.transcribe.tags import TagRulesError, load_rules

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from cti.config import Settings
    from cti.domain.callcenter import CallCenter
    from cti.service.tasks import TaskOwner
    from cti.web.hub import Hub

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).with_name("wallboard.yaml")
PUSH_DELAY_S = 0.002  # changes this close (one burst of AMI events) make one frame
FRAME_GAP_S = 0.02  # frames at most this often: changes meanwhile wait for the next one
TICK_S = 1.0  # alarms on time (waits grow without events)
REFRESH_TICKS = 5  # a frame (with fresh occupancies) at least this often while watched


def load_config(path: Path | None, tag_rules_file: Path | None = None) -> WallboardConfig:
    """The wallboard file (KPI options, alarm rules), validated; the tags its
    ``qa_red_flags`` rules name are checked against the tag rules file."""
    path = path or DEFAULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise KpiConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise KpiConfigError(str(path), f"not valid YAML: {exc}") from exc
    config = parse_config(data, str(path))
    if named_tags(config):
        try:
            tag_rules = load_rules(tag_rules_file)
        except TagRulesError as exc:
            raise KpiConfigError(str(path), f"its tags cannot be checked: {exc}") from exc
        check_tags(config, {rule.tag for rule in tag_rules.rules}, str(path))
    return config


class Wallboard:
    """Live KPIs, the state log and alarms of one service (made by its coordinator).

    Reads the core's agents (snapshots) and queue names; writes to the hub
    (supervisors' sockets), the database and the webhook.
    """

    def __init__(
        self,
        settings: Settings,
        core: CallCenter,
        engine: AsyncEngine,
        hub: Hub,
        agent_name: Callable[[str], str],
        clock: Callable[[], float],
    ) -> None:
        self.core, self.hub, self.agent_name, self.clock = core, hub, agent_name, clock
        self.config = load_config(settings.wallboard_file, settings.tag_rules_file)
        self.calendar = Calendar(self.config.timezone)
        self.live = self._new_live()
        self.alarms = AlarmEngine(self.config.alarms)
        self.red_flags = RedFlagLog(self.config.alarms)  # fed by cti.qa.escalation
        self.recent: deque[Alarm] = deque(maxlen=50)
        self.store = WallboardStore(engine)
        self.writes: asyncio.Queue[StateChange | Alarm] = asyncio.Queue()
        self.webhook = (
            AlarmWebhook(
                settings.alarm_webhook_url,
                settings.alarm_webhook_timeout_s,
                settings.alarm_webhook_retries,
            )
            if settings.alarm_webhook_url
            else None
        )
        self._push_timer: asyncio.TimerHandle | None = None
        self._pushed_at = float("-inf")  # loop time of the last frame
        self._occupancy_due = False  # the next frame refreshes every occupancy
        self._writer: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the clock and the webhook
        self.frames_sent = 0
        self.seq = 0  # number of the last frame sent
        self._held: HeldBoard | None = None  # the board the watching pages hold
        self.builder = BoardBuilder(
            lambda: self.live,
            core.agent_snapshots,
            self.queues,
            agent_name,
            self.config.kpi,
            self.calendar,
            self.config.timezone,
        )

    def _new_live(self) -> LiveKpis:
        return LiveKpis(self.config.kpi, self.calendar, self.clock(), queues=self.core.queues)

    # ------------------------------------------------------------ input (sync)
    def observe(self, effects: Iterable[fx.Effect]) -> None:
        """Every batch of effects the core produced (called by ``Hotline.carry_out``).

        Never raises: a fault in the figures must not stop calls being handled.
        """
        try:
            effects = list(effects)
            for effect in effects:
                if isinstance(effect, fx.PublishAgentState):
                    self.builder.saw(effect.agent)
            observed = self.live.observe(effects, self.clock())
            for change in observed.state_changes:
                self.writes.put_nowait(change)
            if observed.changed:
                self._schedule_push()
        except Exception:
            log.exception("wallboard: effects not counted")

    def disposition(self, call_id: str, code: str) -> None:
        try:
            if self.live.disposition(call_id, code):
                self._schedule_push()
        except Exception:
            log.exception("wallboard: disposition of %s not counted", call_id)

    def qa_since(self) -> float | None:
        """From when the ``qa_red_flags`` rules count tags (None: no such rule)."""
        if not self.red_flags.rules:
            return None
        now, live = self.clock(), self.live
        return min(
            rule_since(rule, now, live.day_start, self.config.kpi.window_s)
            for rule in self.red_flags.rules
        )

    def qa_tags(self, seen: list[TagSeen]) -> None:
        """Tags the transcription side stored (``cti.qa.escalation``): the
        ``qa_red_flags`` rules are judged again at once."""
        try:
            if self.red_flags.record(seen):
                self._schedule_push()
        except Exception:
            log.exception("wallboard: red-flag tags not counted")

    # ------------------------------------------------------------ lifetime
    async def read_back(self) -> None:
        """Today so far from storage (the figures start again from it).

        A failure is logged: the board then counts from now on.
        """
        self.live = self._new_live()
        try:
            await self._seed()
        except Exception:
            log.exception("wallboard: today's figures could not be read back")

    def start(self, tasks: TaskOwner) -> None:
        """The writer, the clock and the webhook, in the service's TaskGroup."""
        self._writer = tasks.start(self.run_writer(), "wallboard-writer")
        self._tasks = [tasks.start(self.run_clock(), "wallboard-clock")]
        if self.webhook is not None:
            self._tasks.append(tasks.start(self.webhook.run(), "alarm-webhook"))

    async def stop(self) -> None:
        """Write what is queued (within a few seconds), then stop the tasks."""
        self.cancel_push()
        for task in self._tasks:
            task.cancel()
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.writes.join()
            self._writer.cancel()
            self._tasks.append(self._writer)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writer, self._tasks = None, []

    def cancel_push(self) -> None:
        """No frame is sent after this (until the next change)."""
        if self._push_timer is not None:
            self._push_timer.cancel()
            self._push_timer = None

    async def _seed(self) -> None:
        now = self.clock()
        day = self.live.day_start
        facts = await self.store.facts(day, now + 1)
        initial = await self.store.states_at(day)
        changes = await self.store.changes(day, now + 1)
        self.live.seed(facts, initial, changes)
        # agents the log shows logged in, whom this process has not logged in
        agents = {a.agent_id: a for a in self.core.agent_snapshots()}
        for agent_id, last in list(self.live.tracker.last.items()):
            agent = agents.get(agent_id)
            if last.state != "logged_out" and (
                agent is None or agent.state is AgentState.LOGGED_OUT
            ):
                change = StateChange(agent_id, "logged_out", "restart", None, max(now, last.at))
                self.live.record(change)
                self.writes.put_nowait(change)
        for row in await self.store.alarms(now):
            if row.cleared_at is None:
                alarm = Alarm(
                    row.rule,
                    row.kind,
                    row.queue,
                    row.severity,
                    row.value,
                    row.threshold,
                    row.raised_at,
                )
                if any(r.name == row.rule for r in self.alarms.rules):
                    self.alarms.active[(row.rule, row.queue)] = alarm
                else:  # its rule is gone from the file
                    self.writes.put_nowait(dataclasses.replace(alarm, cleared_at=now))
        log.info(
            "wallboard: %d call(s) and %d state change(s) of today read back",
            len(facts),
            len(changes),
        )

    # ------------------------------------------------------------ push
    def _schedule_push(self) -> None:
        """A frame soon: within ``PUSH_DELAY_S``, or ``FRAME_GAP_S`` after the last one."""
        if self._push_timer is None:
            loop = asyncio.get_running_loop()
            delay = max(PUSH_DELAY_S, self._pushed_at + FRAME_GAP_S - loop.time())
            self._push_timer = loop.call_later(delay, self.push)

    def push(self) -> None:
        """Judge the alarms and send the changes of the board to every supervisor's
        socket (the whole board to them when nobody watched before)."""
        self._push_timer = None
        self._pushed_at = asyncio.get_running_loop().time()
        try:
            self.check_alarms()
            if not self.hub.supervisor_count:
                self._held = None
                return
            now = self.clock()
            recent = list(self.recent)
            held = self._held
            if held is not None:
                board, agents, present, stamps, occupancy = self.builder.parts(
                    now, self.alarms, recent, self._occupancy_due
                )
                board["seq"] = self.seq + 1
                try:
                    delta = held.update(board, agents, present, stamps, occupancy)
                except NotADelta:
                    held = None
                else:
                    self.seq += 1
                    self._occupancy_due = False
                    self.hub.to_supervisors(
                        "wallboard.delta", delta, lambda: ("wallboard.update", held.board(now))
                    )
            if held is None:
                board, stamps = self.builder.whole(now, self.alarms, recent)
                self.seq += 1
                board["seq"] = self.seq
                self._held = HeldBoard(board, stamps)
                self._occupancy_due = False
                whole = ("wallboard.update", board)
                self.hub.to_supervisors(*whole, lambda: whole)  # a first frame for all
            self.frames_sent += 1
        except Exception:
            self._held = None  # the next frame is whole
            log.exception("wallboard: no frame sent")

    def check_alarms(self) -> list[Alarm]:
        now = self.clock()
        since = self.qa_since()
        if since is not None:
            self.red_flags.forget_before(since)
        measure = live_measure(self.live, now, self.red_flags)
        changes = self.alarms.evaluate(measure, self.queues(), now)
        for alarm in changes:
            self.recent.appendleft(alarm)
            self.writes.put_nowait(alarm)
            log.warning(
                "alarm %s %s: %s %s = %g (threshold %g)",
                alarm.rule,
                "raised" if alarm.cleared_at is None else "cleared",
                alarm.kind,
                alarm.queue,
                alarm.value,
                alarm.threshold,
            )
            if self.webhook is not None:
                self.webhook.send(webhook_payload(alarm))
        return changes

    async def run_clock(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(TICK_S)
            ticks += 1
            try:
                rolled = self.live.roll(self.clock())
                if ticks % REFRESH_TICKS == 0:
                    self._occupancy_due = True
                if self.check_alarms() or rolled or ticks % REFRESH_TICKS == 0:
                    self._schedule_push()
            except Exception:
                log.exception("wallboard clock failed")

    async def run_writer(self) -> None:
        """One writer: state changes and alarms in batches, retried until stored."""
        while True:
            items = [await self.writes.get()]
            while not self.writes.empty() and len(items) < 500:
                items.append(self.writes.get_nowait())
            changes = [i for i in items if isinstance(i, StateChange)]
            alarms = [i for i in items if isinstance(i, Alarm)]
            delay = 0.2
            while True:
                try:
                    await self.store.write(changes, alarms)
                    break
                except Exception:
                    log.exception("storing %d wallboard row(s) failed; retrying", len(items))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for _ in items:
                self.writes.task_done()

    # ------------------------------------------------------------ views
    def queues(self) -> list[str]:
        return sorted(set(self.core.queues) | self.live.queues)

    def board(self) -> dict[str, Any]:
        """Everything the wallboard shows (the ``wallboard.update`` frame), with the
        ``seq`` of the last frame sent: the board the watching pages hold (the
        deltas after it apply to it), else a new one."""
        now = self.clock()
        if self._held is not None:
            return self._held.board(now)
        board, _ = self.builder.whole(now, self.alarms, list(self.recent))
        board["seq"] = self.seq
        return board

    def agent_today(self, agent_id: str) -> dict[str, Any]:
        return self.live.agent_today(agent_id, self.clock())

    async def alarm_log(self, since: float) -> list[dict[str, Any]]:
        """Alarms raised since ``since`` (epoch seconds) or still active, newest first."""
        return [
            {
                "rule": r.rule,
                "kind": r.kind,
                "queue": r.queue,
                "severity": r.severity,
                "value": r.value,
                "threshold": r.threshold,
                "raised_at": r.raised_at,
                "cleared_at": r.cleared_at,
                "cleared_value": r.cleared_value,
                "active": r.cleared_at is None,
            }
            for r in await self.store.alarms(since)
        ]

    # ------------------------------------------------------------ reports
    async def report(
        self,
        kind: str,
        start: float,
        end: float,
        *,
        interval_s: int = 900,
        queue: str | None = None,
        agent: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a report over [start, end) read from the CDRs and the state log."""
        now = self.clock()
        until = min(end, now)
        if kind == "sessions":
            initial, changes = await self.store.session_log(start, until)
            return session_report(initial, changes, start, until, agent)
        book = await self.store.book(self.config.kpi, start, end, now)
        if kind == "waits":
            return wait_distribution(book, start, end, queue)
        group: Group = kind  # type: ignore[assignment]
        return call_report(
            book, start, end, group, self.calendar, interval_s=interval_s, queue=queue, agent=agent
        )


def webhook_payload(alarm: Alarm) -> dict[str, Any]:
    raised = alarm.cleared_at is None
    verb = "raised" if raised else "cleared"
    return {
        "event": f"alarm.{verb}",
        **alarm.as_dict(),
        "text": f"[hotline] alarm {alarm.rule} {verb}: {alarm.kind} of {_scope(alarm)} "
        f"is {alarm.value:g} (threshold {alarm.threshold:g})",
    }


def _scope(alarm: Alarm) -> str:
    if alarm.kind == "qa_red_flags" and alarm.queue == ALL_CALLS:
        return "all calls"
    return f"queue {alarm.queue}"
