"""What the fault tests share: the next frame of an agent's socket read all the
time (``Agent.frames`` of tests/support/agent_client.py), CDR counts, percentiles."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select

from cti.db.models import CallRecord
from cti.db.repository import Repository
from tests.support.ws_frames import Frames


async def next_of_type(frames: Frames, kind: str, within: float) -> Any:
    """The data of the next frame of type ``kind`` (others are skipped)."""
    return (await frames.next(kind, within))[1]


async def cdr_rows(repository: Repository, call_id: str) -> int:
    """How many CDR rows the database holds for ``call_id``."""
    async with repository.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(CallRecord).where(CallRecord.call_id == call_id)
        )
    return int(count or 0)


async def all_cdr_ids(repository: Repository) -> list[str]:
    async with repository.sessions() as session:
        return list(await session.scalars(select(CallRecord.call_id)))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
