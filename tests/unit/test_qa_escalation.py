"""Red-flag tags stored by a transcription worker reach supervisors' WebSockets
and the alarm webhook at once (the CTI reads new tags from the database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cti.db.models import CallTag
from cti.db.repository import create_schema, make_engine
from cti.qa.escalation import Escalations
from cti.qa.store import QaStore
from tests.support.call_records import answered_row
from tests.support.waiting import wait_until
from tests.support.wallboard_app import Board, wallboard_app
from tests.support.webhook import webhook_site
from tests.support.ws_frames import next_of_type

AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


async def store_tags(engine: Any, call_id: str, *tags: tuple[str, bool]) -> None:
    """What a worker stores after transcribing: the tags, red flags marked."""
    async with QaStore(engine).sessions.begin() as session:
        for name, red in tags:
            session.add(
                CallTag(
                    call_id=call_id,
                    tag=name,
                    start_s=12.5,
                    end_s=14.0,
                    detail={"red_flag": True} if red else {},
                    created_at=AT,
                )
            )


async def add_cdr(engine: Any, call_id: str) -> None:
    async with QaStore(engine).sessions.begin() as session:
        session.add(answered_row(call_id, AT, AT, 60.0))


async def test_a_red_flag_tag_reaches_supervisors_and_the_webhook_at_once(tmp_path: Path) -> None:
    async with (
        webhook_site() as hook,
        wallboard_app(tmp_path, alarm_webhook_url=hook.url, escalation_poll_s=0.05) as board,
    ):
        await run_escalation(board, hook.posted)


async def run_escalation(board: Board, posted: list[dict[str, Any]]) -> None:
    engine = board.hotline.repository.engine
    supervisor = await board.login("supervisor")
    ws = await board.client.ws_connect("/ws", headers={"Authorization": f"Bearer {supervisor}"})
    try:
        await add_cdr(engine, "c1")
        # a plain tag and a red flag, as a worker stores them for one call
        await store_tags(engine, "c1", ("greeting_missing", False), ("regulator", True))
        escalation = await next_of_type(ws, "qa.escalation")
        assert escalation == {
            "call_id": "c1",
            "tag": "regulator",
            "start_s": 12.5,
            "end_s": 14.0,
            "tagged_at": AT.isoformat(),
            "agent_id": "1001",
            "queue": "billing",
            "url": "/qa#c1",
        }
        await wait_until(lambda: posted, within=5, what="the escalation posted")
        assert posted[0]["event"] == "qa.escalation" and posted[0]["rule"] == "regulator"
        assert posted[0]["call_id"] == "c1"
        # the next red flag is the next frame: nothing was sent twice
        await store_tags(engine, "c2", ("supervisor_request", True))
        second = await next_of_type(ws, "qa.escalation")
        assert (second["call_id"], second["tag"], second["agent_id"]) == (
            "c2",
            "supervisor_request",
            None,
        )
        await wait_until(lambda: len(posted) == 2, within=5, what="the second posted")
        assert [p["rule"] for p in posted] == ["regulator", "supervisor_request"]
    finally:
        await ws.close()


class Frames:
    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []

    def to_supervisors(self, kind: str, data: dict[str, Any]) -> int:
        self.frames.append((kind, data))
        return 1


async def test_tags_stored_before_the_cti_started_are_not_escalated_again(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    try:
        await create_schema(engine)
        await store_tags(engine, "old", ("regulator", True))
        frames = Frames()
        escalations = Escalations(QaStore(engine), frames, None, poll_s=1)
        await escalations.prime()
        assert await escalations.poll_once() == []
        await store_tags(engine, "new", ("cancel", True), ("greeting", False))
        (pushed,) = await escalations.poll_once()
        assert pushed["call_id"] == "new" and pushed["agent_id"] is None
        assert frames.frames == [("qa.escalation", pushed)]
        assert await escalations.poll_once() == []
    finally:
        await engine.dispose()
