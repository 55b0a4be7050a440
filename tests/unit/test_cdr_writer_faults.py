"""The CDR writer under faults: a record the database refuses is set aside with
its reason and the rest stored; the database's own failures are retried; the
queue is bounded; shutdown is bounded in time; hostile caller IDs are fitted to
their columns. Real SQLite files."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from cti.config import Settings
from cti.db.cdr_store import (
    DeadLetters,
    SpillingQueue,
    drain_within,
    retry_transient,
    spill_to,
    store_cdrs,
)
from cti.db.models import CdrDeadLetter
from cti.db.repository import AgentDisposition, Repository, create_schema, make_engine
from cti.service import Hotline
from cti.service.records import LATE_DISPOSITION_TRIES, CallbackWrite
from cti.web.hub import Hub
from tests.support.call_records import PENDING, cdr
from tests.support.stub_service import StubAmi


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[Repository]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    await create_schema(engine)
    try:
        yield Repository(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    """The service on a SQLite file of its own (``tmp_path / "hotline.db"``), with
    an AMI that is never connected; its CDR writer is not running."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        recordings_dir=tmp_path / "recordings",
    )
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    try:
        yield Hotline(settings, Repository(engine), StubAmi(), Hub())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def poisoned(call_id: str):  # type: ignore[no-untyped-def]
    """A record the database layer refuses: a start time no datetime can hold."""
    return dataclasses.replace(cdr(call_id), entered_at=1e20)


async def dead_letters_in(repository: Repository) -> list[CdrDeadLetter]:
    async with repository.sessions() as session:
        return list(await session.scalars(select(CdrDeadLetter)))


async def test_a_refused_record_is_set_aside_and_the_rest_of_its_batch_stored(
    repository: Repository, tmp_path: Path
) -> None:
    batch = [(cdr(f"c{i}"), None) for i in range(7)]
    batch[4] = (poisoned("c4"), None)
    letters = DeadLetters(repository, tmp_path / "dead.jsonl")
    async with asyncio.timeout(10):
        await store_cdrs(repository, batch, {}, letters)
    for i in range(7):
        assert (await repository.cdr(f"c{i}") is None) == (i == 4)
    (letter,) = await dead_letters_in(repository)
    assert letter.call_id == "c4" and "out of range" in letter.reason
    assert json.loads(letter.record)["cdr"]["entered_at"] == 1e20


async def test_the_hotline_writer_goes_on_after_a_poisoned_record(hotline: Hotline) -> None:
    writer = asyncio.create_task(hotline.records.run_writer())
    try:
        hotline.records.queue.put_nowait((poisoned("bad"), None))
        saved: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        hotline.records.queue.put_nowait(CallbackWrite(PENDING, saved))
        hotline.records.queue.put_nowait((cdr("good"), None))
        async with asyncio.timeout(10):  # the old writer retried "bad" for ever
            await hotline.drain()
        assert saved.done()
        assert await hotline.repository.cdr("good") is not None
        assert [p.call_id for p in await hotline.repository.pending_callbacks()] == [
            PENDING.call_id
        ]
        assert [d.call_id for d in await dead_letters_in(hotline.repository)] == ["bad"]
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def test_the_databases_own_failures_are_retried_not_set_aside() -> None:
    tries: list[float] = []

    async def flaky() -> str:
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        return "stored"

    async def no_sleep(_: float) -> None:
        return None

    assert await retry_transient(flaky, "test", sleep=no_sleep) == "stored"
    assert len(tries) == 3


async def test_a_full_queue_spills_to_the_dead_letter_file_with_a_clear_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    letters = DeadLetters(None, tmp_path / "dead.jsonl")
    queue: SpillingQueue[object] = SpillingQueue(2, spill_to(letters))
    saved: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with caplog.at_level(logging.ERROR):
        queue.put_nowait((cdr("a"), None))
        queue.put_nowait((cdr("b"), None))
        queue.put_nowait((cdr("c"), 7))
        queue.put_nowait(CallbackWrite(PENDING, saved))
    assert queue.qsize() == 2 and queue.spilled == 2
    assert saved.done()  # nobody waits for a write that will not come
    lines = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert lines[0]["record"]["cdr"]["call_id"] == "c"
    assert lines[0]["record"]["customer_id"] == 7
    assert lines[1]["record"]["CallbackWrite"]["callback"]["call_id"] == PENDING.call_id
    assert "records behind" in caplog.text
    assert (tmp_path / "dead.jsonl").stat().st_mode & 0o777 == 0o600


async def test_shutdown_with_a_locked_database_ends_in_time_and_keeps_the_records(
    hotline: Hotline, tmp_path: Path
) -> None:
    lock = sqlite3.connect(tmp_path / "hotline.db", timeout=0)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the database
    writer = asyncio.create_task(hotline.records.run_writer())
    try:
        hotline.records.queue.put_nowait((cdr("first"), None))
        await asyncio.sleep(0.1)  # the writer has it in hand, retrying
        hotline.records.queue.put_nowait((cdr("second"), None))
        started = time.monotonic()
        drained = await drain_within(
            hotline.drain, hotline.records.queue, hotline.records.dead_letters, 1.0
        )
        assert not drained and time.monotonic() - started < 3.0
        spilled = [
            json.loads(line)["record"]["cdr"]["call_id"]
            for line in hotline.settings.dead_letter_file.read_text().splitlines()
        ]
        assert sorted(spilled) == ["first", "second"]
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        lock.rollback()
        lock.close()


async def test_hostile_caller_ids_are_fitted_to_their_columns(repository: Repository) -> None:
    number = "+" + "9" * 78  # Asterisk passes up to 79 bytes
    name = "Evil\x00\x07 Name\r\n" + "x" * 300
    record = dataclasses.replace(cdr("long"), caller_number=number, caller_name=name)
    await repository.save_cdrs([(record, None)])
    row = await repository.cdr("long")
    assert row is not None
    assert row.caller_number == number  # up to 79 bytes fit whole
    assert row.caller_name.startswith("Evil Name") and len(row.caller_name) == 128
    assert "\x00" not in row.caller_name
    pending = dataclasses.replace(PENDING, caller_number=number, caller_name=name)
    await repository.save_pending_callbacks([pending])
    (kept,) = await repository.pending_callbacks()
    assert kept.caller_number == number


async def test_a_late_disposition_the_database_keeps_failing_is_set_aside_not_retried_forever(
    hotline: Hotline,
) -> None:
    records = hotline.records
    tries: list[str] = []

    async def locked(call_id: str, agent_id: str, code: str, notes: str) -> bool:
        tries.append(call_id)
        raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))

    async def no_sleep(_: float) -> None:
        return None

    records.repository.set_agent_disposition = locked  # type: ignore[method-assign]
    records.sleep = no_sleep
    async with asyncio.timeout(10):
        await records._store_late_disposition(
            "late", AgentDisposition("1001", "resolved", "called back")
        )
    assert len(tries) == LATE_DISPOSITION_TRIES
    (line,) = hotline.settings.dead_letter_file.read_text().splitlines()
    letter = json.loads(line)
    assert "database is locked" in letter["reason"]
    assert letter["record"]["LateDisposition"] == {
        "call_id": "late",
        "agent_id": "1001",
        "code": "resolved",
        "notes": "called back",
    }
