"""The wallboard on a real call: the supervisor's socket gets the changed
figures within a second of the answer; the state log and the report agree."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from cti.server import Running
from tests.support.sipp import AgentPhone, agent_port, start_call
from tests.support.waiting import wait_until
from tests.support.wallboard_frames import BoardView

pytestmark = pytest.mark.asterisk


async def login(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with http.post(f"{base}/api/login", json={"username": user, "password": password}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


VIEWS: dict[int, BoardView] = {}  # by socket: the board its page would hold


async def update(
    ws: aiohttp.ClientWebSocketResponse, check: Any, within: float
) -> tuple[float, Any]:
    """The next board (whole, or a delta applied) passing ``check``, with the time
    it arrived."""
    view = VIEWS.setdefault(id(ws), BoardView())
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            if view.take(json.loads(msg.data)) and check(view.data):
                return time.time(), view.data


async def test_an_answered_call_changes_the_wallboard_within_a_second(
    hotline, demo_password, demo_secrets
) -> None:
    running: Running = hotline
    base = running.web_url
    async with aiohttp.ClientSession() as http:
        agent = await login(http, base, "1001", demo_password)
        async with http.post(
            f"{base}/api/agent/state",
            json={"state": "ready"},
            headers={"Authorization": f"Bearer {agent}"},
        ) as r:
            assert r.status == 200
        supervisor = await login(http, base, "supervisor", demo_secrets.supervisor_password)
        async with (
            http.ws_connect(f"{base}/ws", headers={"Authorization": f"Bearer {supervisor}"}) as ws,
            AgentPhone(port=agent_port(1001), answer_after_s=3) as phone,
        ):
            call = await start_call(
                running.settings.sip_port, caller_number="15550100001", dtmf="11", talk_s=4
            )
            async with call:
                _, waiting = await update(ws, lambda d: d["total"]["waiting"] == 1, 60)
                assert waiting["total"]["today"]["answered"] == 0
                arrived, answered = await update(
                    ws, lambda d: d["total"]["today"]["answered"] == 1, 30
                )
                core_calls = [c for c in running.hotline.core.calls.values() if c.answered_at]
                assert core_calls, "the core saw no answer"
                lag = arrived - core_calls[0].answered_at  # type: ignore[operator]
                assert 0 <= lag < 1.0, f"wallboard frame {lag:.3f} s after the answer"
                assert answered["total"]["waiting"] == 0
                me = next(a for a in answered["agents"] if a["agent_id"] == "1001")
                assert me["state"] == "talking" and me["answered_today"] == 1
                queue = next(q for q in answered["queues"] if q["today"]["answered"] == 1)
                assert queue["today"]["service_level"] is not None
                await phone.wait_answered(timeout=10)
                result = await call.wait(30)
                assert result.answered, result.describe()
        await running.hotline.drain()
        wallboard = running.hotline.wallboard
        await wait_until(
            lambda: wallboard.live.today()["aht_s"] is not None, within=10, what="the CDR"
        )
        await wallboard.writes.join()
        changes = await wallboard.store.changes(0, time.time() + 1)
        states = [c.state for c in changes if c.agent_id == "1001"]
        assert states[:4] == ["paused", "ready", "ringing", "talking"], states
        async with http.get(
            f"{base}/api/reports/queues", headers={"Authorization": f"Bearer {supervisor}"}
        ) as r:
            assert r.status == 200
            rows = (await r.json())["rows"]
        live = {q: wallboard.live.queue_today(q) for q in wallboard.queues()}
        assert rows and all(
            {k: v for k, v in row.items() if k != "queue"} == live[row["queue"]] for row in rows
        )
