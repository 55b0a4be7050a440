"""The qa_red_flags alarm through the running service: a transcription worker
stores a call's tags (the tag rules applied to its transcript), the CTI reads
them, the alarm is raised on supervisors' wallboards, stored and posted to the
webhook, and cleared when the calls leave its window; after a restart the
tags stored before still count (real core, real database, stub AMI); and
which tags the escalation reader hands the wallboard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cti.db.models import CallRecord, CallTag
from cti.db.repository import create_schema, make_engine
from cti.kpi.red_flags import TagSeen
from cti.qa.escalation import Escalations
from cti.qa.store import QaStore
from recordings.transcribe.store import TranscriptionStore
from recordings.transcribe.tags import apply_rules, load_rules
from recordings.transcribe.turns import Turn
from recordings.transcribe.types import AudioSource, TranscriptData, Word
from tests.support.call_records import answered_row
from tests.support.waiting import wait_until
from tests.support.wallboard_app import T0, Board, wallboard_app
from tests.support.wallboard_frames import BoardView
from tests.support.webhook import webhook_site

RULES = """
timezone: UTC
alarms:
  - name: red-flags
    kind: qa_red_flags
    queue: "*"
    window_s: 600
    threshold: 1
    clear: 0
    severity: critical
"""


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def transcribed(board: Board, call_id: str, said: str, when: float) -> list[str]:
    """A billing call answered by 1001, then a worker's job on it: the caller
    said ``said``; the tag rules shipped with the product tag it. Its tags."""
    engine = board.hotline.repository.engine
    store = TranscriptionStore(engine)
    async with store.sessions.begin() as session:
        session.add(answered_row(call_id, at(when - 120), at(when - 60), 50.0))
    await store.enqueue(call_id, [AudioSource("caller", f"/rec/{call_id}-in.wav")], "vosk")
    job = await store.lease("worker-1", 60, now=at(when))
    assert job is not None and job.call_id == call_id
    words = [Word(w, 1.0 + i * 0.4, 1.3 + i * 0.4) for i, w in enumerate(said.split())]
    tags = apply_rules(load_rules(), [Turn("caller", words)], {}, "en")
    data = TranscriptData(call_id, "vosk", "en", 10.0, [], {}, said)
    assert await store.complete(job, data, tags, now=at(when))
    return [t.tag for t in tags]


async def test_red_flagged_calls_raise_the_alarm_on_the_wallboard_and_it_clears_later(
    tmp_path: Path, db_url: str
) -> None:
    async with (
        webhook_site() as hook,
        wallboard_app(
            tmp_path,
            RULES,
            database_url=db_url,
            escalation_poll_s=0.05,
            alarm_webhook_url=hook.url,
        ) as board,
    ):
        await raise_and_clear(board, hook.posted)


async def raise_and_clear(board: Board, posted: list[dict[str, Any]]) -> None:
    supervisor = await board.login("supervisor")
    view = BoardView()
    async with board.client.ws_connect(
        "/ws", headers={"Authorization": f"Bearer {supervisor}"}
    ) as ws:
        tags = await transcribed(board, "c1", "I want to speak to your manager now", T0)
        assert "supervisor_request" in tags
        # one red-flagged call is not above 1: escalated, no alarm
        await wait_until(
            lambda: board.hotline.escalations.sent == 1, within=5, what="the first escalation"
        )
        assert board.hotline.wallboard.alarms.active == {}
        tags = await transcribed(board, "c2", "this is unacceptable I will complain", T0 + 30)
        assert "complaint" in tags
        data = await view.until(ws, lambda d: bool(d["alarms"]), 5.0)
        (alarm,) = data["alarms"]
        assert (alarm["rule"], alarm["kind"], alarm["queue"], alarm["value"]) == (
            "red-flags",
            "qa_red_flags",
            "billing",
            2.0,
        )
        assert (alarm["severity"], alarm["threshold"], alarm["active"]) == ("critical", 1.0, True)

        # the webhook gets each escalation (c2's complaint was said twice) and the alarm
        def alarms() -> list[dict[str, Any]]:
            return [p for p in posted if p["event"].startswith("alarm.")]

        await wait_until(alarms, within=5, what="the alarm posted")
        assert {p["rule"] for p in posted if p["event"] == "qa.escalation"} == {
            "supervisor_request",
            "complaint",
        }
        (raised,) = alarms()
        assert (raised["event"], raised["rule"]) == ("alarm.raised", "red-flags")
        assert "qa_red_flags of queue billing is 2" in raised["text"]
        # ten minutes on, both calls left the window: the clock clears it
        board.now[0] = T0 + 631
        data = await view.until(ws, lambda d: not d["alarms"], 5.0)
        assert [(a["rule"], a["active"]) for a in data["recent_alarms"]] == [
            ("red-flags", False),
            ("red-flags", True),
        ]
    await board.hotline.wallboard.writes.join()
    status, stored = await board.get(f"/api/alarms?since={T0 - 1}", supervisor)
    assert status == 200
    assert [(a["rule"], a["queue"], a["value"], a["cleared_value"]) for a in stored] == [
        ("red-flags", "billing", 2.0, 0.0)
    ]
    assert stored[0]["cleared_at"] == T0 + 631


async def test_red_flags_stored_before_a_restart_still_count_after_it(
    tmp_path: Path, db_url: str
) -> None:
    settings = {"database_url": db_url, "escalation_poll_s": 0.05}
    async with wallboard_app(tmp_path, RULES, **settings) as first:
        await transcribed(first, "c1", "I want to speak to your manager", T0)
        await wait_until(lambda: first.hotline.escalations.sent == 1, within=5, what="escalated")
        assert first.hotline.wallboard.alarms.active == {}
    # the CTI restarted two minutes later: c1 is still within the window
    async with wallboard_app(tmp_path, RULES, start=T0 + 120, **settings) as second:
        wallboard = second.hotline.wallboard
        assert [t.call_id for t in wallboard.red_flags.kept] == ["c1"]
        await transcribed(second, "c2", "I will report you to the regulator", T0 + 130)
        await wait_until(lambda: wallboard.alarms.active, within=5, what="the alarm raised")
        (alarm,) = wallboard.alarms.active.values()
        assert (alarm.queue, alarm.value) == ("billing", 2.0)


class Feed:
    """What the wallboard gets from the escalation reader."""

    def __init__(self, since: float | None) -> None:
        self.since = since
        self.seen: list[TagSeen] = []

    def qa_since(self) -> float | None:
        return self.since

    def qa_tags(self, seen: list[TagSeen]) -> None:
        self.seen += seen


class NoSockets:
    def to_supervisors(self, kind: str, data: dict[str, Any]) -> int:
        return 0


async def test_the_alarms_get_the_tag_rules_tags_with_their_calls_queue_not_manual_ones(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    try:
        await create_schema(engine)
        store = TranscriptionStore(engine)

        async def tag(call_id: str, name: str, when: float, red: bool) -> None:
            async with store.sessions.begin() as session:
                detail = {"red_flag": True} if red else {}
                session.add(CallTag(call_id=call_id, tag=name, detail=detail, created_at=at(when)))

        async with store.sessions.begin() as session:
            session.add(
                CallRecord(
                    call_id="q1",
                    caller_number="15550100001",
                    queue="technical",
                    entered_at=at(T0 - 900),
                    ended_at=at(T0 - 800),
                    disposition="answered",
                )
            )
        await tag("old", "cancel", T0 - 4000, True)  # before the rules' reach
        await tag("q1", "regulator", T0 - 600, True)  # within it: read back at start
        feed = Feed(since=T0 - 3600)
        escalations = Escalations(QaStore(engine), NoSockets(), None, 1, feed)
        await escalations.prime()
        assert feed.seen == [TagSeen("q1", "regulator", "technical", T0 - 600, True)]
        await tag("n1", "negative_end", T0, False)
        await store.add_manual_tag("n1", "complaint", None, None, "qa")
        assert await escalations.poll_once() == []  # no red flag to escalate
        assert feed.seen[1:] == [TagSeen("n1", "negative_end", None, T0, False)]
    finally:
        await engine.dispose()
