"""The wallboard, alarms and reports over HTTP and the WebSocket, with the real
core, the real database (SQLite) and a stub AMI."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.db.repository import AgentDisposition, make_engine
from cti.domain import effects as fx
from cti.domain import events as ev
from cti.kpi.calendar import Calendar
from cti.wallboard.store import WallboardStore
from tests.support.kpi_day import QUEUES, simulate_day
from tests.support.waiting import wait_until
from tests.support.wallboard_app import T0, Board, wallboard_app
from tests.support.wallboard_frames import BoardView
from tests.support.webhook import webhook_site

DAY = T0 - T0 % 86400

RULES = """
timezone: UTC
alarms:
  - {name: queue-full, kind: waiting_calls, queue: billing, threshold: 0, clear: 0}
  - {name: slow, kind: longest_wait, queue: "*", threshold: 30, clear: 10}
"""

Factory = Callable[..., Awaitable[Board]]


@pytest.fixture
async def board(tmp_path: Path, db_url: str) -> AsyncIterator[Factory]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(rules: str | None = None, **settings_kw: Any) -> Board:
            return await stack.enter_async_context(
                wallboard_app(tmp_path, rules, database_url=db_url, **settings_kw)
            )

        yield make


VIEWS: dict[int, BoardView] = {}  # by socket: the board its page would hold


async def next_update(
    ws: aiohttp.ClientWebSocketResponse, check: Callable[[Any], bool], within: float
) -> Any:
    return await VIEWS.setdefault(id(ws), BoardView()).until(ws, check, within)


def queue_of(data: Any, name: str) -> Any:
    return next(q for q in data["queues"] if q["queue"] == name)


async def test_agents_and_strangers_are_refused_the_wallboard_alarms_and_reports(
    board: Factory,
) -> None:
    b = await board()
    agent = await b.login("1001")
    b.client.session.cookie_jar.clear()  # strangers send no cookie
    for path in ("/api/wallboard", "/api/alarms", "/api/reports/queues"):
        status, body = await b.get(path, agent)
        assert (status, body["error"]) == (403, "forbidden")
        status, body = await b.get(path, None)
        assert (status, body["error"]) == (401, "unauthenticated")
    supervisor = await b.login("supervisor")
    status, body = await b.get("/api/wallboard/me", supervisor)
    assert status == 403
    status, mine = await b.get("/api/wallboard/me", agent)
    assert status == 200 and mine["agent_id"] == "1001"


async def test_a_supervisor_gets_a_wallboard_update_within_a_second_of_an_answer(
    board: Factory,
) -> None:
    b = await board()
    agent = await b.login("1001")
    async with b.client.post(
        "/api/agent/state", json={"state": "ready"}, headers={"Authorization": f"Bearer {agent}"}
    ) as r:
        assert r.status == 200
    supervisor = await b.login("supervisor")
    async with b.client.ws_connect("/ws", headers={"Authorization": f"Bearer {supervisor}"}) as ws:
        b.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        data = await next_update(ws, lambda d: queue_of(d, "billing")["waiting"] == 1, 1.0)
        assert queue_of(data, "billing")["today"]["answered"] == 0
        b.now[0] = T0 + 4
        b.play(ev.AgentRang("c1", "1001", "billing", T0 + 1))
        b.play(ev.CallAnswered("c1", "1001", "billing", T0 + 4))
        sent = asyncio.get_running_loop().time()
        data = await next_update(
            ws, lambda d: queue_of(d, "billing")["today"]["answered"] == 1, 1.0
        )
        assert asyncio.get_running_loop().time() - sent < 1.0
        billing = queue_of(data, "billing")
        assert billing["waiting"] == 0 and billing["today"]["service_level"] == 1.0
        assert billing["today"]["asa_s"] == 4.0
        me = next(a for a in data["agents"] if a["agent_id"] == "1001")
        assert me["state"] == "talking" and me["answered_today"] == 1
    # agents never get the board
    async with b.client.ws_connect("/ws", headers={"Authorization": f"Bearer {agent}"}) as ws:
        b.play(ev.CallStarted("c2", "PJSIP/trunk-2", "15550100002", "", T0 + 5))
        b.play(ev.CallQueued("c2", "billing", 1, T0 + 5))
        with pytest.raises(TimeoutError):
            await next_update(ws, lambda d: True, 0.5)


async def test_the_report_read_from_the_database_equals_the_live_figures_of_the_day(
    board: Factory,
) -> None:
    b = await board()
    b.now[0] = DAY
    wallboard = b.hotline.wallboard
    wallboard.live.roll(DAY)
    cdrs: list[Any] = []

    def effects(t: float, batch: list[fx.Effect]) -> None:
        b.now[0] = t
        wallboard.observe(batch)
        cdrs.extend(e.cdr for e in batch if isinstance(e, fx.StoreCdr))

    def disposition(t: float, call_id: str, code: str) -> None:
        b.now[0] = max(b.now[0], t)
        wallboard.disposition(call_id, code)

    day = simulate_day(DAY, on_effects=effects, on_disposition=disposition)
    agents = {c.call_id: c.agent_id for c in cdrs}
    await b.hotline.repository.save_cdrs(
        [(cdr, None) for cdr in cdrs],
        {
            cid: AgentDisposition(agents[cid] or "", code, "")
            for cid, code in day.dispositions.items()
        },
    )
    await wait_until(wallboard.writes.empty, within=5, what="the state log written")
    await wallboard.writes.join()
    b.now[0] = DAY + 23 * 3600
    supervisor = await b.login("supervisor")
    date = Calendar("UTC").date_of(DAY)
    status, live = await b.get("/api/wallboard", supervisor)
    assert status == 200
    status, report = await b.get(f"/api/reports/queues?from={date}&to={date}", supervisor)
    assert status == 200
    rows = {r["queue"]: r for r in report["rows"]}
    for name in QUEUES:
        assert {k: v for k, v in rows[name].items() if k != "queue"} == queue_of(live, name)[
            "today"
        ]
        assert rows[name]["offered"] > 50
    status, total = await b.get(f"/api/reports/total?from={date}", supervisor)
    assert {k: v for k, v in total["rows"][0].items() if k != "total"} == live["total"]["today"]
    status, sessions = await b.get(f"/api/reports/sessions?from={date}", supervisor)
    live_times = wallboard.live.agent_times(b.now[0])
    assert {r["agent"]: r for r in sessions["rows"]} == {
        a: {"agent": a} | t.figures() for a, t in live_times.items()
    }
    status, intervals = await b.get(f"/api/reports/intervals?from={date}", supervisor)
    assert [r["service_level"] for r in intervals["rows"]] == [
        r["service_level"] for r in live["intervals"]
    ]
    status, csv_text = await b.get(f"/api/reports/agents?from={date}&format=csv", supervisor)
    assert status == 200
    lines = csv_text.splitlines()
    assert lines[0].startswith("agent,offered,answered") and len(lines) == 1 + 4
    status, waits = await b.get(f"/api/reports/waits?from={date}", supervisor)
    assert sum(r["answered"] for r in waits["rows"]) == live["total"]["today"]["answered"]


async def test_reports_refuse_bad_parameters_with_a_clear_error(board: Factory) -> None:
    b = await board()
    supervisor = await b.login("supervisor")
    for query, problem in (
        ("/api/reports/nothing", "report must be one of"),
        ("/api/reports/queues?interval=7", "interval must be 15, 30 or 60"),
        ("/api/reports/queues?from=yesterday", "from"),
        ("/api/reports/queues?from=2027-01-02&to=2027-01-01", "'from' must be before 'to'"),
        ("/api/reports/queues?from=2020-01-01&to=2027-01-01", "at most 366 days"),
        ("/api/reports/queues?queue=../x", "queue must be a name"),
        ("/api/reports/queues?format=xml", "format must be json or csv"),
        ("/api/alarms?since=nan", "finite"),
    ):
        status, body = await b.get(query, supervisor)
        assert status == 400, query
        assert body["error"] == "bad_request" and problem in body["message"], body


async def test_an_alarm_is_raised_pushed_stored_and_cleared_with_the_waiting_call(
    board: Factory,
) -> None:
    b = await board(RULES)
    supervisor = await b.login("supervisor")
    async with b.client.ws_connect("/ws", headers={"Authorization": f"Bearer {supervisor}"}) as ws:
        b.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        data = await next_update(ws, lambda d: bool(d["alarms"]), 1.0)
        assert [(a["rule"], a["queue"]) for a in data["alarms"]] == [("queue-full", "billing")]
        b.now[0] = T0 + 31  # the wait grows past 30 s: the clock raises "slow"
        data = await next_update(ws, lambda d: len(d["alarms"]) == 2, 3.0)
        assert {a["rule"] for a in data["alarms"]} == {"queue-full", "slow"}
        b.play(ev.CallAbandoned("c1", "billing", T0 + 31), ev.CallEnded("c1", T0 + 31, "Normal"))
        data = await next_update(ws, lambda d: not d["alarms"], 3.0)
        assert {a["rule"] for a in data["recent_alarms"] if a["cleared_at"]} == {
            "queue-full",
            "slow",
        }
    await b.hotline.wallboard.writes.join()
    status, stored = await b.get(f"/api/alarms?since={T0 - 1}", supervisor)
    assert status == 200
    assert sorted((a["rule"], a["active"], a["cleared_at"]) for a in stored) == [
        ("queue-full", False, T0 + 31),
        ("slow", False, T0 + 31),
    ]


async def test_alarms_go_to_the_webhook_retried_after_a_failure(board: Factory) -> None:
    async with webhook_site(refuse_first=1) as hook:
        b = await board(RULES, alarm_webhook_url=hook.url)
        assert b.hotline.wallboard.webhook is not None
        b.hotline.wallboard.webhook.backoff_s = 0.05
        b.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        received = hook.posted
        await wait_until(lambda: received, within=5, what="the alarm posted")
        assert hook.tries == 2
        assert received[0]["event"] == "alarm.raised"
        assert received[0]["rule"] == "queue-full" and received[0]["queue"] == "billing"
        assert "queue-full raised" in received[0]["text"]


async def test_a_bad_wallboard_file_is_refused_naming_the_field(board: Factory) -> None:
    from cti.kpi.options import KpiConfigError

    with pytest.raises(KpiConfigError, match=r"alarms.0.kind"):
        await board("alarms:\n  - {name: x, kind: weather, threshold: 1}\n")


async def test_after_a_restart_today_is_read_back_and_logged_in_agents_are_logged_out(
    tmp_path: Path, db_url: str
) -> None:
    async with wallboard_app(tmp_path, database_url=db_url) as first:
        await first.ready("1001")
        first.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
            ev.AgentRang("c1", "1001", "billing", T0 + 1),
            ev.CallAnswered("c1", "1001", "billing", T0 + 3),
        )
        first.now[0] = T0 + 60
        first.play(ev.AgentCallCompleted("c1", "1001", T0 + 60), ev.CallEnded("c1", T0 + 60, "x"))
        before = first.hotline.wallboard.live.queue_today("billing")
        await first.hotline.drain()
        await first.hotline.wallboard.writes.join()
    assert before["answered"] == 1 and before["asa_s"] == 3.0
    # the CTI restarted a minute later, on the same database
    async with wallboard_app(tmp_path, start=T0 + 120, database_url=db_url) as second:
        wallboard = second.hotline.wallboard
        assert wallboard.live.queue_today("billing") == before
        await wallboard.writes.join()
        changes = await wallboard.store.changes(T0 - 3600, T0 + 3600)
        assert [(c.state, c.reason) for c in changes if c.agent_id == "1001"][-1] == (
            "logged_out",
            "restart",
        )


async def test_dispositions_given_on_the_desk_during_and_after_a_call_reach_the_board(
    board: Factory,
) -> None:
    b = await board(
        "kpi:\n"
        "  fcr: {mode: disposition, resolved_codes: [resolved]}\n"
        "  complaints: {codes: [escalated]}\n"
    )
    agent = await b.login("1001")
    supervisor = await b.login("supervisor")
    await b.ready("1001")

    async def dispose(call_id: str, code: str) -> str:
        async with b.client.post(
            f"/api/calls/{call_id}/disposition",
            json={"disposition": code},
            headers={"Authorization": f"Bearer {agent}"},
        ) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["stored"])

    def call(call_id: str, number: str, t: float) -> None:
        b.now[0] = t
        b.play(
            ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", number, "", t),
            ev.CallQueued(call_id, "billing", 1, t),
            ev.AgentRang(call_id, "1001", "billing", t + 1),
            ev.CallAnswered(call_id, "1001", "billing", t + 2),
        )

    def hang_up(call_id: str, t: float) -> None:
        b.now[0] = t
        b.play(ev.AgentCallCompleted(call_id, "1001", t), ev.CallEnded(call_id, t, "Normal"))

    async def billing() -> Any:
        status, data = await b.get("/api/wallboard", supervisor)
        assert status == 200
        return queue_of(data, "billing")["today"]

    call("c1", "15550100001", T0)
    assert await dispose("c1", "escalated") == "pending"  # during the call
    hang_up("c1", T0 + 30)
    assert (await billing())["complaints"] == 1
    call("c2", "15550100002", T0 + 60)
    hang_up("c2", T0 + 90)
    await b.hotline.drain()  # c2's CDR row is stored
    assert (await billing())["fcr"] == 0.0
    assert await dispose("c2", "resolved") == "stored"  # after the call
    today = await billing()
    assert (today["fcr"], today["complaints"]) == (0.5, 1)


async def test_the_wallboard_runs_in_the_service_and_its_state_log_is_written_at_shutdown(
    tmp_path: Path, db_url: str
) -> None:
    names = ("wallboard-writer", "wallboard-clock", "alarm-webhook")

    def running() -> set[str]:
        return {t.get_name() for t in asyncio.all_tasks()} & set(names)

    async with wallboard_app(
        tmp_path, alarm_webhook_url="http://127.0.0.1:9/hook", database_url=db_url
    ) as b:
        assert running() == set(names)
        b.hotline.desk.login("1001")
        b.hotline.desk.ready("1001")  # the service stops at once: no wait for the writer
    assert running() == set()
    engine = make_engine(db_url)
    try:
        changes = await WallboardStore(engine).changes(T0 - 3600, T0 + 3600)
    finally:
        await engine.dispose()
    assert [c.state for c in changes if c.agent_id == "1001"] == ["paused", "ready"]


async def test_a_wallboard_socket_gets_the_board_but_no_per_call_frames(board: Factory) -> None:
    b = await board()
    supervisor = await b.login("supervisor")
    headers = {"Authorization": f"Bearer {supervisor}"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await b.client.ws_connect("/ws?feed=nonsense", headers=headers)
    assert refused.value.status == 400
    async with (
        b.client.ws_connect("/ws?feed=wallboard", headers=headers) as wall,
        b.client.ws_connect("/ws", headers=headers) as desk,
    ):
        b.play(
            ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
            ev.CallQueued("c1", "billing", 1, T0),
        )
        await next_update(wall, lambda d: queue_of(d, "billing")["waiting"] == 1, 2.0)
        kinds: set[str] = set()
        async with asyncio.timeout(2.0):
            while "call.update" not in kinds:
                kinds.add(json.loads((await desk.receive()).data)["type"])
        b.play(ev.CallEnded("c1", T0 + 1, "Normal"))
        await next_update(wall, lambda d: queue_of(d, "billing")["waiting"] == 0, 2.0)
        seen: set[str] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                while True:
                    seen.add(json.loads((await wall.receive()).data)["type"])
        assert "call.update" not in seen and "agent.state" not in seen
