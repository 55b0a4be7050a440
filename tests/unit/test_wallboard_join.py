"""Supervisors' pages joining a watched wallboard: the page that opens gets the
whole board, the pages already watching only the changes; the board read over
HTTP is the one the next delta applies to."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.domain import events as ev
from tests.support.wallboard_app import T0, Board, wallboard_app
from tests.support.wallboard_frames import BoardView


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async with wallboard_app(tmp_path, None) as b:
        yield b


async def frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next wallboard frame of ``ws``."""
    async with asyncio.timeout(3.0):
        while True:
            data = json.loads((await ws.receive()).data)
            if data["type"].startswith("wallboard."):
                return dict(data)


def waiting(board: dict[str, Any] | None, queue: str) -> int:
    assert board is not None
    return int(next(q["waiting"] for q in board["queues"] if q["queue"] == queue))


async def test_a_page_that_opens_gets_the_whole_board_and_the_pages_watching_a_delta(
    board: Board,
) -> None:
    supervisor = await board.login("supervisor")
    headers = {"Authorization": f"Bearer {supervisor}"}
    url = "/ws?feed=wallboard"
    async with board.client.ws_connect(url, headers=headers) as first:
        view = BoardView()
        board.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        opened = await frame(first)
        assert opened["type"] == "wallboard.update"  # nobody watched: the whole board
        view.take(opened)
        async with board.client.ws_connect(url, headers=headers) as second:
            board.play(
                ev.CallStarted("c2", "PJSIP/trunk-2", "15550100002", "", T0),
                ev.CallQueued("c2", "general", 1, T0),
            )
            joined, change = await frame(second), await frame(first)
            assert joined["type"] == "wallboard.update" and change["type"] == "wallboard.delta"
            assert len(json.dumps(change)) < len(json.dumps(joined)) / 3
            assert view.take(change) and view.data is not None
            assert joined["data"]["seq"] == view.data["seq"] == change["data"]["seq"]
            assert waiting(joined["data"], "general") == waiting(view.data, "general") == 1
            assert view.data["agents"] == joined["data"]["agents"]
        # what a page reads over HTTP when it opens is the board the next delta applies to
        status, held = await board.get("/api/wallboard", supervisor)
        assert status == 200 and held["seq"] == view.data["seq"]
        read = BoardView()
        read.take({"type": "wallboard.update", "data": held})
        board.play(ev.CallEnded("c1", T0 + 1, "Normal"))
        with contextlib.suppress(TimeoutError):
            while waiting(read.data, "billing"):
                assert read.take(await frame(first))
        assert waiting(read.data, "billing") == 0 and waiting(read.data, "general") == 1
