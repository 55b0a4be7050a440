from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cti.db.backfill import callback_talks, calls_from, parse_lines
from cti.db.repository import Repository, create_schema, make_engine
from cti.domain.model import Disposition


def line(**kw: object) -> str:
    row = {
        "uniqueid": "1.1",
        "linkedid": "1.1",
        "clid": '"张伟" <13800138000>',
        "src": "13800138000",
        "dst": "s",
        "dcontext": "hotline",
        "channel": "PJSIP/trunk-00000001",
        "dstchannel": "",
        "lastapp": "Queue",
        "lastdata": "billing,r,,,300",
        "start": "2026-11-25T16:00:00+0000",
        "answer": "2026-11-25T16:00:00+0000",
        "end": "2026-11-25T16:01:00+0000",
        "billsec": 60,
        "disposition": "ANSWERED",
        "userfield": "menu=1",
    }
    row.update(kw)
    return json.dumps(row, ensure_ascii=False)


def test_answered_queue_call_is_rebuilt_from_its_legs() -> None:
    lines = [
        line(dstchannel="PJSIP/agent1001-00000002", billsec=40, end="2026-11-25T16:01:00+0000"),
        "not json at all",
        line(uniqueid="9.9", linkedid="9.9", dcontext="hotline-test", userfield=""),
    ]
    (call,) = calls_from(parse_lines(lines))
    assert call.call_id == "1.1"
    assert (call.queue, call.agent_id, call.ivr_path) == ("billing", "1001", "menu=1")
    assert call.caller_name == "张伟"
    assert call.talk_s == pytest.approx(40)
    assert call.disposition is Disposition.ANSWERED
    assert call.ended_at - call.entered_at == pytest.approx(60)


def test_queue_call_without_agent_is_abandoned_and_ivr_only_call() -> None:
    calls = calls_from(
        parse_lines(
            [
                line(),
                line(uniqueid="2.2", linkedid="2.2", lastapp="AGI", lastdata="agi://x/ivr"),
            ]
        )
    )
    by_id = {c.call_id: c for c in calls}
    assert by_id["1.1"].disposition is Disposition.ABANDONED
    assert by_id["2.2"].disposition is Disposition.IVR_ONLY
    assert by_id["2.2"].queue is None


def test_bad_times_are_skipped() -> None:
    assert list(parse_lines([line(start="yesterday")])) == []


def test_callback_talks_are_found_by_the_first_legs_id_and_userfield() -> None:
    talked_leg = line(
        uniqueid="hotline-callback~agent~7~1001~5.5",
        linkedid="hotline-callback~agent~7~1001~5.5",
        dcontext="hotline-callback",
        channel="PJSIP/agent1001-00000009",
        dstchannel="PJSIP/trunk-0000000a",
        billsec=25,
        userfield="callback:5.5",
    )
    unanswered_try = line(
        uniqueid="hotline-callback~customer~3~1002~6.6",
        linkedid="hotline-callback~customer~3~1002~6.6",
        dcontext="hotline-callback-customer",
        dstchannel="PJSIP/agent1002-0000000b",
        billsec=0,
        userfield="callback:6.6",
    )
    forged = line(dstchannel="PJSIP/trunk-0000000c", billsec=30, userfield="callback:6.6")
    talks = callback_talks(parse_lines([talked_leg, unanswered_try, forged]), ["5.5", "6.6"])
    assert list(talks) == ["5.5"]
    agent, answered_at, ended_at = talks["5.5"]
    assert agent == "1001" and ended_at - answered_at == pytest.approx(25)
    assert callback_talks(parse_lines([talked_leg]), ["6.6"]) == {}


async def test_calls_rebuilt_from_asterisks_file_are_stored_once_and_whole(db_url: str) -> None:
    """On SQLite and PostgreSQL: the 79-byte caller number Asterisk allows, a
    Chinese name, and the times as the same instants."""
    number = "8" * 79
    lines = [
        line(src=number, clid=f'"张伟" <{number}>', dstchannel="PJSIP/agent1001-00000002"),
        line(uniqueid="2.2", linkedid="2.2", lastapp="AGI", lastdata="agi://x/ivr"),
    ]
    calls = calls_from(parse_lines(lines))
    engine = make_engine(db_url)
    try:
        await create_schema(engine)
        repository = Repository(engine)
        assert await repository.insert_missing_cdrs(calls) == 2
        assert await repository.insert_missing_cdrs(calls) == 0  # already there
        row = await repository.cdr("1.1")
        assert row is not None and row.recovered
        assert (row.caller_number, row.caller_name) == (number, "张伟")
        assert (row.queue, row.agent_id, row.disposition) == ("billing", "1001", "answered")
        entered = row.entered_at if row.entered_at.tzinfo else row.entered_at.replace(tzinfo=UTC)
        assert entered == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    finally:
        await engine.dispose()
