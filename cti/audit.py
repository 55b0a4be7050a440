"""The audit log: append who did what to what (``audit_log`` table), and read it back.

Every supervisor's listen, whisper and barge is written here before the PBX
is asked to do it; logins and admin changes can use the same ``append``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.db.models import AuditEntry

MAX_DETAIL_CHARS = 4000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: float  # epoch seconds
    username: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "username": self.username,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


def _epoch(at: datetime) -> float:
    # SQLite gives back naive datetimes (stored in UTC); PostgreSQL aware ones
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def append(
        self,
        username: str,
        role: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        *,
        at: float | None = None,
    ) -> int:
        """Write one entry (committed when this returns); its id.

        ``detail`` must be a JSON object of at most ``MAX_DETAIL_CHARS``
        characters once encoded (a ``ValueError`` otherwise: nothing written).
        """
        detail = dict(detail or {})
        encoded = json.dumps(detail, ensure_ascii=False)
        if len(encoded) > MAX_DETAIL_CHARS:
            raise ValueError(f"audit detail longer than {MAX_DETAIL_CHARS} characters")
        when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        entry = AuditEntry(
            at=when,
            username=username[:64],
            role=role[:16],
            action=action[:64],
            target=target[:128],
            detail=detail,
        )
        async with self._sessions.begin() as session:
            session.add(entry)
            await session.flush()
            return entry.id

    async def entries(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        action: str | None = None,
        username: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first; ``before_id`` pages back."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if username is not None:
            query = query.where(AuditEntry.username == username)
        async with self._sessions() as session:
            rows = await session.scalars(query)
            return [
                AuditRecord(
                    r.id, _epoch(r.at), r.username, r.role, r.action, r.target, dict(r.detail)
                )
                for r in rows
            ]
