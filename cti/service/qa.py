"""What the QA page may ask of the service: its store, scorecard, recordings and clock,
and the audit log every access to a recording or transcript is written to.

Built by the coordinator; ``cti/web/qa.py`` reaches the QA side only
through this (the agent's recording pause goes through ``DeskFacade``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cti.audit import AuditLog
from cti.qa.sample import DEFAULT_PERCENT, Week, pick
from cti.qa.scorecard import Scorecard
from cti.qa.store import QaStore

#: Audit actions of the QA side (``audit_log.action``).
LISTEN = "qa.listen"  # a recording played in the browser (HTTP Range requests)
DOWNLOAD = "qa.download"  # a recording fetched whole
TRANSCRIPT_VIEW = "qa.transcript_view"  # a call opened for review (its transcript)
REFUSED = "qa.refused"  # a role that may not use the QA side tried
HOLD = "qa.hold"  # a call put on hold (kept from retention)
UNHOLD = "qa.unhold"  # a call's hold removed
#: Range requests of one playback within this many seconds are one listen.
LISTEN_WINDOW_S = 600.0


class QaFacade:
    def __init__(
        self,
        store: QaStore,
        scorecard: Scorecard,
        recordings_dir: Path,
        clock: Callable[[], float],
        audit: AuditLog,
        sample_percent: float = DEFAULT_PERCENT,
    ) -> None:
        self.store, self.scorecard, self.recordings_dir = store, scorecard, recordings_dir
        self.sample_percent = sample_percent  # of each agent's calls a week, spot-checked
        self._clock = clock
        self._audit = audit
        self._listening: dict[tuple[str, str, str], float] = {}  # (user, file, from) -> last

    def now(self) -> float:
        return self._clock()

    async def audit_access(
        self,
        username: str,
        role: str,
        action: str,
        target: str,
        remote: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write who did ``action`` to ``target``, when and from where (the client's address)."""
        where = {"from": (remote or "unknown")[:64]}
        await self._audit.append(
            username, role, action, target, where | (detail or {}), at=self.now()
        )

    async def sample(self, week: Week) -> dict[str, list[str]]:
        """The week's spot-check sample: each agent's sampled call ids."""
        calls = await self.store.agent_calls(week.start, week.end)
        return pick(week, calls, self.sample_percent)

    async def audit_listen(self, username: str, role: str, name: str, remote: str | None) -> None:
        """A Range request of a recording: one entry per playback, not one per range.

        A player asks for many ranges (seeking, buffering); the first of them in
        ``LISTEN_WINDOW_S`` from the same user and address is the entry.
        """
        now, key = self.now(), (username, name, remote or "")
        last = self._listening.get(key)
        self._listening[key] = now
        if len(self._listening) > 10_000:  # forget old playbacks
            self._listening = {
                k: t for k, t in self._listening.items() if now - t < LISTEN_WINDOW_S
            }
        if last is None or now - last >= LISTEN_WINDOW_S:
            await self.audit_access(username, role, LISTEN, name, remote)
