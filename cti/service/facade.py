"""What the web may ask of the service: one method per command or view.

The web handlers call these and never reach into the core's dictionaries.
Refusals are ``AgentCommandRefused`` (agent state commands) and
``CallActionRefused`` (call actions), each with a stable code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cti.config import Settings
from cti.db.models import User
from cti.domain import effects as fx
from cti.kpi.calendar import Calendar
from cti.metrics import ServiceMetrics
from cti.service.records import DispositionOutcome
from cti.service.views import call_json
from cti.web.hub import Hub

if TYPE_CHECKING:
    from cti.service.hotline import Hotline


class DeskFacade:
    def __init__(self, hotline: Hotline) -> None:
        self._hotline = hotline
        self._core = hotline.core
        self._desktop = hotline.desktop
        self._wallboard = hotline.wallboard

    @property
    def settings(self) -> Settings:
        return self._hotline.settings

    @property
    def hub(self) -> Hub:
        return self._hotline.hub

    def now(self) -> float:
        return self._hotline.clock()

    @property
    def metrics(self) -> ServiceMetrics:
        """The operations metrics (Prometheus)."""
        return self._hotline.metrics

    # ------------------------------------------------------------ people
    async def user(self, username: str) -> User | None:
        """The user row for a login (None when unknown)."""
        return await self._hotline.repository.user(username)

    def is_agent(self, username: str) -> bool:
        """Is ``username`` an agent set up on this server?"""
        return username in self._core.agents

    def name_of(self, username: str) -> str:
        return self._desktop.agent_name(username)

    # ------------------------------------------------------------ agent commands
    def login(self, agent_id: str) -> dict[str, Any]:
        """The agent joins its queues, paused (raises ``AgentCommandRefused``)."""
        return self._command(self._core.login(agent_id, self.now()), agent_id)

    def ready(self, agent_id: str) -> dict[str, Any]:
        return self._command(self._core.ready(agent_id, self.now()), agent_id)

    def pause(self, agent_id: str, reason: str = "break") -> dict[str, Any]:
        return self._command(self._core.pause(agent_id, reason or "break", self.now()), agent_id)

    def logout(self, agent_id: str) -> dict[str, Any]:
        return self._command(self._core.logout(agent_id, self.now()), agent_id)

    def _command(self, effects: list[fx.Effect], agent_id: str) -> dict[str, Any]:
        self._hotline.carry_out(effects)
        return self._desktop.agent_view(self._core.agents[agent_id].snapshot())

    # ------------------------------------------------------------ call actions
    async def hangup(self, agent_id: str, call_id: str) -> None:
        await self._hotline.calls.hangup(agent_id, call_id)

    async def transfer(self, agent_id: str, call_id: str, kind: str, target: str) -> None:
        await self._hotline.calls.transfer(agent_id, call_id, kind, target)

    async def disposition(
        self, agent_id: str, call_id: str, code: str, notes: str
    ) -> DispositionOutcome:
        return await self._hotline.calls.save_disposition(agent_id, call_id, code, notes)

    async def set_recording_paused(self, agent_id: str, call_id: str, paused: bool) -> bool:
        """Pause or resume the recording of the agent's call (card details); the new state."""
        return await self._hotline.recording_pauses.set_paused(agent_id, call_id, paused)

    def recording_paused(self, agent_id: str, call_id: str) -> bool:
        """Whether the recording of the agent's call is paused."""
        return self._hotline.recording_pauses.is_paused(agent_id, call_id)

    # ------------------------------------------------------------ views
    def queues(self) -> list[str]:
        return sorted(self._core.queues)

    def agent_view(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's state as the desktop shows it; None for a non-agent."""
        agent = self._core.agents.get(agent_id)
        return None if agent is None else self._desktop.agent_view(agent.snapshot())

    def agents_view(self) -> list[dict[str, Any]]:
        return [self._desktop.agent_view(a) for a in self._core.agent_snapshots()]

    def calls_view(self) -> list[dict[str, Any]]:
        return [call_json(c) for c in self._core.call_snapshots(self.now())]

    def directory(self) -> list[dict[str, Any]]:
        """Transfer targets among the agents, with their state."""
        return [
            {"agent_id": a.agent_id, "name": self.name_of(a.agent_id), "state": a.state.value}
            for a in sorted(self._core.agent_snapshots(), key=lambda a: a.agent_id)
        ]

    def current_pop(self, agent_id: str) -> dict[str, Any] | None:
        """The screen-pop of the call the agent is on (for a page's resync)."""
        agent = self._core.agents.get(agent_id)
        if agent is None or not agent.call_id or agent.call_id not in self._core.calls:
            return None
        call = self._core.calls[agent.call_id].snapshot(self.now())
        return self._desktop.pop_json(call)[0]

    def wrap_call(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's last answered call that has no disposition yet."""
        return self._hotline.records.wrap_call(agent_id)

    # ------------------------------------------------------------ wallboard, alarms, reports
    @property
    def calendar(self) -> Calendar:
        """The site's days (the wallboard file's time zone): what report dates mean."""
        return self._wallboard.calendar

    @property
    def timezone(self) -> str:
        return self._wallboard.config.timezone

    def board(self) -> dict[str, Any]:
        """The wallboard as its ``wallboard.update`` frame."""
        return self._wallboard.board()

    def my_figures(self, agent_id: str) -> dict[str, Any]:
        """The agent's own figures of today."""
        return self._wallboard.agent_today(agent_id)

    async def alarms(self, since: float) -> list[dict[str, Any]]:
        """Alarms raised since ``since`` (epoch seconds) or still active, newest first."""
        return await self._wallboard.alarm_log(since)

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
        """Rows of a report (``cti.kpi.report``) over [start, end), read from storage."""
        return await self._wallboard.report(
            kind, start, end, interval_s=interval_s, queue=queue, agent=agent
        )
