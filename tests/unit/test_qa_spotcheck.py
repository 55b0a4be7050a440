"""The QA search by words (Chinese included) through the full-text index, the
week's spot-check sample, and putting a call on hold: the QA API with the real
core and database (SQLite and PostgreSQL), and the migration that builds the
index for the transcripts stored before it."""

# ruff: noqa: F811 - the desk fixture is imported from the desktop's tests

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from cti.db.migrate import alembic_config
from cti.db.models import CallTag
from cti.db.repository import make_engine
from cti.qa.retention import apply_retention
from cti.qa.sample import Week, parse_week, pick, sample_size
from recordings.transcribe.store import TranscriptionStore
from recordings.transcribe.types import AudioSource, TranscriptData
from tests.unit.test_web_desktop import Desk, desk  # noqa: F401 - the fixture
from tests.unit.test_web_qa import add_cdr, add_transcript, audit_entries, ids


def turn(words: str) -> list[dict[str, Any]]:
    return [{"party": "caller", "start": 1.0, "end": 3.0, "text": words}]


async def three_transcripts(d: Desk) -> str:
    for call_id in ("en", "zh", "other"):
        await add_cdr(d, call_id)
    await add_transcript(d, "en", turn("I want to CANCEL my contract, please."))
    await add_transcript(d, "zh", turn("我要退款，这个服务不满意。账号 ****"))
    await add_transcript(d, "other", turn("退一下 款项 cancellation policy 满"))
    return str(await d.login("qa"))


# ------------------------------------------------------------ full text
async def test_search_finds_an_english_word_whatever_its_case(desk: Desk) -> None:
    token = await three_transcripts(desk)
    assert await ids(desk, token, "text=cancel") == ["en"]
    assert await ids(desk, token, "text=Contract") == ["en"]
    assert await ids(desk, token, "text=cancellation") == ["other"]
    assert await ids(desk, token, "text=cancelled") == []  # words, not parts of words


async def test_search_finds_a_two_character_chinese_word_as_written(desk: Desk) -> None:
    token = await three_transcripts(desk)
    # 退款 in "我要退款", not the 退 ... 款 apart in the other call
    assert await ids(desk, token, "text=退款") == ["zh"]
    assert await ids(desk, token, "text=不满意") == ["zh"]
    assert await ids(desk, token, "text=我要退款") == ["zh"]


async def test_search_finds_a_single_chinese_character(desk: Desk) -> None:
    token = await three_transcripts(desk)
    assert sorted(await ids(desk, token, "text=满")) == ["other", "zh"]
    assert sorted(await ids(desk, token, "text=款")) == ["other", "zh"]
    assert await ids(desk, token, "text=猫") == []


async def test_a_quoted_phrase_needs_its_words_together_and_in_order(desk: Desk) -> None:
    token = await three_transcripts(desk)
    assert await ids(desk, token, 'text="want to cancel"') == ["en"]
    assert await ids(desk, token, 'text="cancel to want"') == []
    assert await ids(desk, token, 'text="contract please"') == ["en"]  # punctuation between
    # unquoted words each must be there, anywhere
    assert await ids(desk, token, "text=please+want") == ["en"]
    assert await ids(desk, token, "text=please+退款") == []


async def test_text_search_is_combined_with_the_other_filters(desk: Desk) -> None:
    await add_cdr(desk, "a", agent_id="1001", survey_score=2, agent_disposition="refund")
    await add_cdr(desk, "b", agent_id="1002", survey_score=5, queue="support")
    await add_transcript(desk, "a", turn("我要退款"))
    await add_transcript(desk, "b", turn("退款已经处理"))
    token = await desk.login("qa")
    assert sorted(await ids(desk, token, "text=退款")) == ["a", "b"]
    assert await ids(desk, token, "text=退款&agent=1002") == ["b"]
    assert await ids(desk, token, "text=退款&queue=billing") == ["a"]
    assert await ids(desk, token, "text=退款&survey_max=2") == ["a"]
    assert await ids(desk, token, "text=退款&survey_min=4") == ["b"]
    assert await ids(desk, token, "text=退款&disposition=refund") == ["a"]
    assert sorted(await ids(desk, token, "text=退款&disposition=answered")) == ["a", "b"]
    assert await ids(desk, token, "text=退款&since=2026-12-02") == []


@pytest.mark.parametrize(
    "words",
    [
        "NEAR(cancel contract, 2)",
        "cancel*",
        "-cancel",
        "cancel OR refund",
        'cancel" OR "x',
        "{body} : cancel",
        "cancel AND NOT please",
        "^cancel",
        "cancel'); DROP TABLE cdr; --",
        "cancel & !please | x:*",
    ],
)
async def test_fts_syntax_in_a_search_is_plain_words(desk: Desk, words: str) -> None:
    token = await three_transcripts(desk)
    status, body = await desk.get(f"/api/qa/calls?text={quote(words)}", token)
    assert status == 200, body
    # "cancel" and the other words of the query must all be in the transcript
    expected = ["en"] if set(_plain(words)) <= {"cancel", "contract", "please"} else []
    assert [c["call_id"] for c in body["calls"]] == expected
    assert await ids(desk, token, "text=cancel") == ["en"]  # the index is still there


def _plain(words: str) -> list[str]:
    from cti.qa.words import query_terms

    return [w for term in query_terms(words) for w in term]


def quote(value: str) -> str:
    from urllib.parse import quote as url_quote

    return url_quote(value, safe="")


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        ('"', "no letters or digits"),
        ("*** --- ()", "no letters or digits"),
        ("x" * 201, "at most 200 characters"),
        (" ".join(f"w{i}" for i in range(17)), "at most 16 words"),
    ],
)
async def test_a_search_with_nothing_to_search_is_a_clear_400(
    desk: Desk, words: str, problem: str
) -> None:
    token = await desk.login("qa")
    status, body = await desk.get(f"/api/qa/calls?text={quote(words)}", token)
    assert status == 400, body
    assert body["error"] in ("bad_text", "bad_request") and problem in body["message"]


async def test_a_transcript_stored_by_a_worker_is_searchable_and_its_update_replaces_it(
    desk: Desk,
) -> None:
    await add_cdr(desk, "w1")
    store = TranscriptionStore(desk.hotline.repository.engine)
    token = await desk.login("qa")
    for words, found, gone in (("我想投诉", "投诉", None), ("我要退款", "退款", "投诉")):
        await store.enqueue("w1", [AudioSource("mixed", "/rec/w1.wav")], "vosk")
        job = await store.lease("worker", 60)
        assert job is not None
        data = TranscriptData("w1", "vosk", "zh", 3.0, turn(words), {}, words)
        assert await store.complete(job, data, [])
        assert await ids(desk, token, f"text={found}") == ["w1"]
        if gone:
            assert await ids(desk, token, f"text={gone}") == []


async def test_a_deleted_transcript_leaves_the_index(desk: Desk, tmp_path: Path) -> None:
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    await add_cdr(desk, "old", entered_at=old, answered_at=old, ended_at=old)
    await add_transcript(desk, "old", turn("我要退款"))
    token = await desk.login("qa")
    assert await ids(desk, token, "text=退款") == ["old"]
    report = await apply_retention(desk.hotline.repository.engine, tmp_path, 30, desk.now[0])
    assert report.transcripts == 1
    assert await ids(desk, token, "text=退款") == []
    async with desk.hotline.repository.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            left = await conn.scalar(text("SELECT count(*) FROM transcripts_fts"))
            assert left == 0


async def test_the_migration_indexes_the_transcripts_stored_before_it(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0016"))
            await conn.execute(
                text(
                    "INSERT INTO transcripts (call_id, engine, language, created_at, duration_s,"
                    " turns, analytics, text) VALUES ('before', 'vosk', 'zh', :at, 1.0, '[]',"
                    " '{}', '我要退款 Cancel')"
                ),
                {"at": datetime(2026, 12, 1, tzinfo=UTC)},
            )
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        from cti.qa.store import CallFilter, QaStore

        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO cdr (call_id, caller_number, caller_name, ivr_path, entered_at,"
                    " ended_at, wait_s, talk_s, disposition, agent_notes, recovered, verified)"
                    " VALUES ('before', '1', '', '', :at, :at, 0, 0, 'answered', '', false,"
                    " false)"
                ),
                {"at": datetime(2026, 12, 1, tzinfo=UTC)},
            )
        store = QaStore(engine)
        for words in ("退款", "退", "cancel"):
            found = await store.search(CallFilter(text=words))
            assert [c.call_id for c in found] == ["before"], words
        assert await store.search(CallFilter(text="投诉")) == []
    finally:
        await engine.dispose()


# ------------------------------------------------------------ sample
WEEK = parse_week("2027-W02")  # the desk's clock: 2027-01-15


def test_a_sample_is_n_percent_of_each_agents_calls_and_at_least_one() -> None:
    calls = [(f"a{i}", "1001") for i in range(100)] + [("b1", "1002"), ("b2", "1002")]
    sample = pick(WEEK, calls, 5.0)
    assert len(sample["1001"]) == 5 and set(sample["1001"]) <= {c for c, _ in calls}
    assert len(sample["1002"]) == 1
    assert [sample_size(n, 5.0) for n in (0, 1, 20, 21, 40)] == [0, 1, 1, 2, 2]
    assert sample_size(3, 100.0) == 3


def test_a_sample_is_the_same_for_the_same_week_and_differs_between_weeks() -> None:
    calls = [(f"a{i}", "1001") for i in range(200)]
    first = pick(WEEK, calls, 10.0)
    assert pick(WEEK, list(reversed(calls)), 10.0) == first  # order of the rows is irrelevant
    assert pick(Week(2027, 3), calls, 10.0) != first
    # one more call keeps the rest of the sample, or takes one place of it
    grown = pick(WEEK, [*calls, ("late", "1001")], 10.0)["1001"]
    assert len(set(grown) & set(first["1001"])) >= len(first["1001"]) - 1


async def test_the_sample_api_and_the_sample_filter_show_the_same_calls(desk: Desk) -> None:
    monday = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    for i in range(40):
        at = monday + timedelta(hours=i)
        await add_cdr(desk, f"x{i:02d}", agent_id="1001", entered_at=at, answered_at=at)
    for i in range(3):
        at = monday + timedelta(hours=i)
        await add_cdr(desk, f"y{i}", agent_id="1002", entered_at=at, answered_at=at)
    last_week = monday - timedelta(days=3)
    await add_cdr(desk, "old", agent_id="1002", entered_at=last_week, answered_at=last_week)
    token = await desk.login("qa")
    status, body = await desk.get("/api/qa/sample", token)
    assert status == 200, body
    assert (body["week"], body["percent"]) == ("2027-W02", 5.0)
    agents = {a["agent_id"]: a for a in body["agents"]}
    assert agents["1001"]["calls"] == 40 and len(agents["1001"]["sample"]) == 2
    assert agents["1002"]["calls"] == 3 and len(agents["1002"]["sample"]) == 1
    assert "old" not in body["calls"]
    # another QA user sees the same sample
    status, again = await desk.get("/api/qa/sample?week=2027-W02", await desk.login("supervisor"))
    assert again["calls"] == body["calls"]
    found = await ids(desk, token, "sample=true&limit=200")
    assert sorted(found) == body["calls"]
    assert await ids(desk, token, "sample=true&agent=1002") == agents["1002"]["sample"]
    status, last = await desk.get("/api/qa/sample?week=2027-W01", token)
    assert last["calls"] == ["old"]
    assert await ids(desk, token, "sample=true&week=2027-W01") == ["old"]


@pytest.mark.parametrize("week", ["2027-02", "2027-W54", "W02", "2027-W2x"])
async def test_a_bad_week_is_refused(desk: Desk, week: str) -> None:
    token = await desk.login("qa")
    status, body = await desk.get(f"/api/qa/sample?week={week}", token)
    assert (status, body["error"]) == (400, "bad_request")
    status, body = await desk.get(f"/api/qa/calls?sample=true&week={week}", token)
    assert status == 400


async def test_the_sample_is_not_for_agents(desk: Desk) -> None:
    status, _ = await desk.get("/api/qa/sample", await desk.login("1001"))
    assert status == 403


# ------------------------------------------------------------ hold
async def test_a_call_put_on_hold_is_kept_from_retention_until_the_hold_is_removed(
    desk: Desk, tmp_path: Path
) -> None:
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    await add_cdr(desk, "c1", entered_at=old, answered_at=old, ended_at=old)
    await add_transcript(desk, "c1", turn("keep me"))
    token = await desk.login("qa")
    status, body = await desk.post("/api/qa/calls/c1/hold", token, {"hold": True})
    assert (status, body["hold"], body["changed"]) == (200, True, True)
    status, body = await desk.post("/api/qa/calls/c1/hold", token, {"hold": True})
    assert body["changed"] is False  # once is enough
    status, detail = await desk.get("/api/qa/calls/c1", token)
    assert detail["hold"] is True
    assert [(t["tag"], t["source"], t["created_by"]) for t in detail["tags"]] == [
        ("hold", "manual", "qa")
    ]
    assert (await desk.get("/api/qa/calls?tag=hold", token))[1]["calls"][0]["hold"] is True
    engine = desk.hotline.repository.engine
    kept = await apply_retention(engine, tmp_path, 30, desk.now[0])
    assert (kept.calls, kept.held) == ([], 1)

    status, body = await desk.post("/api/qa/calls/c1/hold", token, {"hold": False})
    assert (status, body["hold"], body["changed"]) == (200, False, True)
    assert (await desk.get("/api/qa/calls/c1", token))[1]["hold"] is False
    gone = await apply_retention(engine, tmp_path, 30, desk.now[0])
    assert (gone.calls, gone.transcripts) == (["c1"], 1)
    for action in ("qa.hold", "qa.unhold"):  # the repeated hold changed nothing: not logged
        (entry,) = await audit_entries(desk, action)
        assert (entry["username"], entry["role"], entry["target"]) == ("qa", "qa", "c1")
        assert entry["detail"] == {"from": "127.0.0.1"}


async def test_hold_is_refused_to_agents_unknown_calls_and_bad_bodies(desk: Desk) -> None:
    await add_cdr(desk, "c1")
    agent = await desk.login("1001")
    status, _ = await desk.post("/api/qa/calls/c1/hold", agent, {"hold": True})
    assert status == 403
    token = await desk.login("qa")
    status, body = await desk.post("/api/qa/calls/nope/hold", token, {"hold": True})
    assert (status, body["error"]) == (404, "no_such_call")
    for bad in ({}, {"hold": "yes"}, {"hold": 1}):
        status, body = await desk.post("/api/qa/calls/c1/hold", token, bad)
        assert (status, body["error"]) == (400, "bad_request")
    async with desk.hotline.repository.sessions() as session:
        from sqlalchemy import select

        assert list(await session.scalars(select(CallTag))) == []


# ------------------------------------------------------------ words (pure)
def test_index_and_query_cut_text_the_same_way() -> None:
    from cti.qa.words import index_text, query_terms

    stored = index_text("我要退款, CANCEL my Ｃａｒｄ １２３ café")
    assert stored == "我 要 退 款 cancel my card 123 café"
    assert query_terms("退款 Cancel") == [["退", "款"], ["cancel"]]
    assert query_terms('"my card" 123') == [["my", "card"], ["123"]]
    assert query_terms('"unclosed phrase') == [["unclosed", "phrase"]]
    assert query_terms("abc退款 abc退款") == [["abc", "退", "款"]]  # once is enough
    assert query_terms("カード") == [["カ", "ー", "ド"]]
