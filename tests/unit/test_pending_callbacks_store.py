"""Pending call-backs in the database: kept until the call's CDR is stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.db.models import CallTag
from cti.db.repository import Repository
from tests.support.call_records import PENDING, cdr


@pytest.fixture
def repository(db_engine: AsyncEngine) -> Repository:
    return Repository(db_engine)


async def test_saved_callback_comes_back_whole_and_is_updated_in_place(
    repository: Repository,
) -> None:
    other = dataclasses.replace(PENDING, call_id="later", queued_at=PENDING.queued_at + 30)
    await repository.save_pending_callbacks([other, PENDING])
    assert await repository.pending_callbacks() == [PENDING, other]  # place in line order
    tried = dataclasses.replace(PENDING, attempts=1, in_flight=True)
    await repository.save_pending_callbacks([tried])
    assert await repository.pending_callbacks() == [tried, other]


async def test_storing_the_calls_cdr_removes_its_pending_callback(
    repository: Repository,
) -> None:
    other = dataclasses.replace(PENDING, call_id="other")
    await repository.save_pending_callbacks([PENDING, other])
    await repository.save_cdrs([(cdr(PENDING.call_id), None)])
    assert [p.call_id for p in await repository.pending_callbacks()] == ["other"]


async def test_recovery_from_asterisk_skips_a_call_still_owed_a_callback(
    repository: Repository,
) -> None:
    await repository.save_pending_callbacks([PENDING])
    stored = await repository.insert_missing_cdrs([cdr(PENDING.call_id), cdr("ended")])
    assert stored == 1
    assert await repository.cdr(PENDING.call_id) is None
    assert await repository.cdr("ended") is not None


# Asterisk passes caller numbers of up to 79 bytes; a display name is the caller's choice
LONGEST_NUMBER = "1" * 79
LONG_NAME = "张" * 300


async def test_the_longest_caller_number_asterisk_passes_is_stored_whole(
    repository: Repository,
) -> None:
    pending = dataclasses.replace(PENDING, caller_number=LONGEST_NUMBER)
    await repository.save_pending_callbacks([pending])
    assert await repository.pending_callbacks() == [pending]

    record = dataclasses.replace(cdr("long"), caller_number=LONGEST_NUMBER)
    await repository.save_cdrs([(record, None)])
    row = await repository.cdr("long")
    assert row is not None and row.caller_number == LONGEST_NUMBER
    assert [r.call_id for r in await repository.recent_calls(LONGEST_NUMBER)] == ["long"]


async def test_an_overlong_caller_name_is_cut_to_its_column_and_the_cdr_is_kept(
    repository: Repository,
) -> None:
    await repository.save_pending_callbacks([dataclasses.replace(PENDING, caller_name=LONG_NAME)])
    (kept,) = await repository.pending_callbacks()
    assert kept.caller_name == "张" * 128

    await repository.save_cdrs([(dataclasses.replace(cdr("named"), caller_name=LONG_NAME), None)])
    await repository.insert_missing_cdrs([dataclasses.replace(cdr("rec"), caller_name=LONG_NAME)])
    for call_id in ("named", "rec"):
        row = await repository.cdr(call_id)
        assert row is not None and row.caller_name == "张" * 128


async def test_cdr_times_come_back_as_the_same_utc_instants(repository: Repository) -> None:
    await repository.save_cdrs([(cdr("timed"), None)])
    row = await repository.cdr("timed")
    assert row is not None and row.answered_at is not None
    # timezone-aware on both backends (SQLite keeps no zone)
    assert row.entered_at == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert row.entered_at.tzinfo is not None and row.entered_at.timestamp() == 1764000000.0
    assert row.answered_at.timestamp() == 1764000100.0


async def test_a_moment_of_another_zone_is_stored_as_the_same_instant(
    repository: Repository,
) -> None:
    shanghai = datetime(2026, 12, 4, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with repository.sessions.begin() as session:
        session.add(CallTag(call_id="c", tag="vip", created_at=shanghai))
    async with repository.sessions() as session:
        (tag,) = await session.scalars(select(CallTag))
    assert tag.created_at == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert tag.created_at.utcoffset() == timedelta(0)
