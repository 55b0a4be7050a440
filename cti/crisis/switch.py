"""Turning a crisis profile on and off while the service runs.

Taking a profile: its files are validated (:mod:`cti.crisis.profiles`), the
switch is written to the audit log (``crisis.switch``, which is also where
the state is stored: the newest such entry is taken back after a restart),
then the IVR's live flow and the router's plan are replaced for new calls and
supervisors get a ``crisis.state`` frame. A refused switch is audited as
``crisis.refused`` and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cti.audit import AuditLog
from cti.config import Settings
from cti.crisis.profiles import CrisisRefused, Prepared, prepare, profile_name
from cti.routing import Router
from ivr.live_flow import ActiveFlow, LiveFlow
from ivr.prompts import prompt_names
from ivr.service import load_default_flow

log = logging.getLogger(__name__)

SWITCH = "crisis.switch"
REFUSED = "crisis.refused"


class Supervisors(Protocol):
    def to_supervisors(self, kind: str, data: dict[str, Any]) -> int: ...


@dataclass(frozen=True, slots=True)
class CrisisState:
    profile: str | None = None  # None: the normal flow and routes
    since: float | None = None
    by: str = ""


class CrisisSwitch:
    def __init__(
        self,
        settings: Settings,
        router: Router | None,
        hub: Supervisors,
        audit: AuditLog,
        clock: Callable[[], float],
    ) -> None:
        self.settings, self.router, self.hub, self.audit = settings, router, hub, audit
        self.clock = clock
        self.profiles = dict(settings.crisis_profiles)
        self.live = LiveFlow(load_default_flow(settings.ivr_flow))
        self.normal_plan = router.plan if router is not None else None
        self.state = CrisisState()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ views
    def profiles_json(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "flow": spec.flow,
                "routes": spec.routes,
                "announcement": spec.announcement,
                "label": {
                    "en": spec.label_en or name,
                    "zh": spec.label_zh or spec.label_en or name,
                },
            }
            for name, spec in sorted(self.profiles.items())
        ]

    def state_json(self) -> dict[str, Any]:
        state = self.state
        since = (
            datetime.fromtimestamp(state.since, UTC).isoformat()
            if state.since is not None
            else None
        )
        return {
            "active": state.profile is not None,
            "profile": state.profile,
            "since": since,
            "by": state.by or None,
            "routes_applied": self.router is not None,
        }

    # ------------------------------------------------------------ commands
    def check(self, raw_name: object) -> Prepared:
        """The named profile, validated (raises ``CrisisRefused``)."""
        name = profile_name(raw_name, self.profiles)
        return prepare(name, self.profiles[name], self.settings.crisis_dir, prompt_names())

    async def turn_on(self, username: str, role: str, raw_name: object) -> dict[str, Any]:
        async with self._lock:
            try:
                prepared = self.check(raw_name)
            except CrisisRefused as exc:
                target = raw_name if isinstance(raw_name, str) else ""
                await self.audit.append(
                    username,
                    role,
                    REFUSED,
                    target[:64],
                    {"problems": exc.problems or [exc.message]},
                )
                raise
            detail: dict[str, Any] = {"profile": prepared.name, **prepared.files}
            if prepared.announcement:
                detail["announcement"] = prepared.announcement
            await self.audit.append(username, role, SWITCH, prepared.name, detail)
            self._take(prepared, username)
        log.warning("crisis profile %r turned on by %s", prepared.name, username)
        return self.state_json()

    async def turn_off(self, username: str, role: str) -> dict[str, Any]:
        async with self._lock:
            previous = self.state.profile
            await self.audit.append(username, role, SWITCH, previous or "", {"profile": None})
            self._take(None, username)
        log.warning("crisis mode turned off by %s (was %r)", username, previous)
        return self.state_json()

    async def restore(self) -> None:
        """Take back the state stored by the last switch (after a restart)."""
        entries = await self.audit.entries(limit=1, action=SWITCH)
        if not entries or not entries[0].detail.get("profile"):
            return
        entry = entries[0]
        try:
            prepared = self.check(entry.detail["profile"])
        except CrisisRefused as exc:
            log.error("crisis profile not restored, normal flow and routes kept: %s", exc.message)
            return
        self._take(prepared, entry.username, since=entry.at)
        log.warning("crisis profile %r restored (turned on by %s)", prepared.name, entry.username)

    def _take(self, prepared: Prepared | None, by: str, since: float | None = None) -> None:
        if prepared is None:
            self.live.use_normal()
            if self.router is not None and self.normal_plan is not None:
                self.router.use_plan(self.normal_plan)
            self.state = CrisisState(None, self.clock(), by)
        else:
            flow = prepared.flow or self.live.normal
            self.live.use(ActiveFlow(flow, prepared.announcement, prepared.name))
            if self.router is not None:
                self.router.use_plan(prepared.plan or self.normal_plan or self.router.plan)
            self.state = CrisisState(prepared.name, since or self.clock(), by)
        self.hub.to_supervisors("crisis.state", self.state_json())
