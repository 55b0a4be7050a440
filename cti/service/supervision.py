"""What the supervisor pages may ask of the service: one method per command or view.

Live calls, starting a listen / whisper / barge, the staffing plan and the
audit log. The web's supervisor, staffing and audit routes call these and
never reach into the core or the coordinator.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from cti.audit import AuditLog, AuditRecord
from cti.domain.model import AgentState
from cti.staffing.forecast import Weighting
from cti.staffing.plan import staff_now
from cti.staffing.report import build_plan, plan_json
from cti.supervision.service import Monitoring, Supervisor
from cti.supervision.spy import SpyMode, SpyOrder

if TYPE_CHECKING:
    from cti.crisis.switch import CrisisSwitch
    from cti.service.hotline import Hotline


class SupervisorFacade:
    def __init__(self, hotline: Hotline) -> None:
        self._hotline = hotline
        self._core = hotline.core
        self.audit = AuditLog(hotline.repository.engine)
        self._monitoring = Monitoring(hotline.core, hotline.repository, hotline.actions, self.audit)

    @property
    def crisis(self) -> CrisisSwitch:
        """The crisis switch (``cti/crisis/``, routes in ``cti/web/crisis.py``)."""
        return self._hotline.crisis

    # ------------------------------------------------------------ monitoring
    def live_calls(self) -> list[dict[str, Any]]:
        """Agents on a call now: who, which call, since when, the caller's queue."""
        now = self._hotline.clock()
        rows: list[dict[str, Any]] = []
        for agent in sorted(self._core.agent_snapshots(), key=lambda a: a.agent_id):
            if agent.state is not AgentState.TALKING or agent.call_id is None:
                continue
            call = self._core.calls.get(agent.call_id)
            rows.append(
                {
                    "agent": agent.agent_id,
                    "name": self._hotline.desktop.agent_name(agent.agent_id),
                    "call_id": agent.call_id,
                    "queue": call.queue if call is not None else None,
                    "talking_s": round(max(0.0, now - agent.state_since)),
                }
            )
        return rows

    async def start_monitoring(
        self, username: str, role: str, agent_id: str, mode: SpyMode
    ) -> SpyOrder:
        """Ring the supervisor's phone into the agent's call (raises ``SpyRefused``)."""
        return await self._monitoring.start(Supervisor(username, role), agent_id, mode)

    # ------------------------------------------------------------ staffing
    async def staffing_plan(
        self, day: date, *, weeks: int, interval_min: int, weighting: Weighting
    ) -> dict[str, Any]:
        """The day's plan from stored CDRs beside the agents logged in now (raises
        ``StaffingRequestError`` for a request out of range)."""
        plan = await build_plan(
            self._hotline.repository.engine,
            self._hotline.settings,
            day,
            weeks=weeks,
            interval_min=interval_min,
            weighting=weighting,
        )
        return plan_json(plan, staff_now(self._core.agent_snapshots()))

    # ------------------------------------------------------------ audit
    async def audit_entries(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        action: str | None = None,
        username: str | None = None,
    ) -> list[AuditRecord]:
        """The audit log, newest first."""
        return await self.audit.entries(
            limit=limit, before_id=before_id, action=action, username=username
        )
