"""The CDR writer's hook: a call stored with a recording gets a transcription job."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cti.domain.model import CallDetailRecord
from recordings.transcribe.sources import recording_sources
from recordings.transcribe.store import add_job


async def queue_transcriptions(
    session: AsyncSession,
    items: Mapping[str, tuple[CallDetailRecord, int | None]],
    known: Mapping[str, Any],
    engine: str,
) -> int:
    """Add a job for each new CDR in ``items`` (call id -> (CDR, customer id)) that
    has a recording; ``known`` holds the calls already stored (no second job when
    a CDR is written again). Runs in the CDR's transaction. Returns jobs added."""
    added = 0
    for call_id, (cdr, _customer) in items.items():
        path = cdr.recording_path
        if not path or call_id in known:
            continue
        sources = await asyncio.to_thread(recording_sources, path)
        add_job(session, call_id, sources, engine)
        added += 1
    return added
