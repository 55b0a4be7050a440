"""The agent desktop API and WebSocket, with the real core and database and a stub AMI.

Calls are played into the core as domain events (what the AMI adapter would
produce); AMI actions the desktop sends are recorded by the stub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import make_engine
from cti.domain import events as ev
from cti.domain.model import AgentState
from cti.service import Hotline, HttpCrm
from cti.web.app import SESSIONS
from cti.web.hub import Hub
from tests.support.stub_service import (
    PASSWORD,
    T0,
    Client,
    StubAmi,
    login_token,
    seeded,
    serving,
)
from tests.support.waiting import wait_until
from tests.support.ws_frames import next_of_type

TTL = 3600


@dataclass
class Desk:
    hotline: Hotline
    ami: StubAmi
    client: Client
    now: list[float] = field(default_factory=lambda: [T0])

    def advance(self, seconds: float) -> None:
        self.now[0] += seconds

    async def login(self, user: str, password: str | None = None) -> str:
        return await login_token(self.client, user, password)

    async def ready(self, agent: str) -> str:
        """``agent`` logged in and asked to be ready; its session token."""
        token = await self.login(agent)
        await self.post("/api/agent/state", token, {"state": "ready"})
        return token

    async def post(self, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        async with self.client.post(
            path, json=body or {}, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            return r.status, await r.json()

    async def get(self, path: str, token: str) -> Any:
        async with self.client.get(path, headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.json()

    def play(self, *events: ev.DomainEvent) -> None:
        for event in events:
            self.hotline.carry_out(self.hotline.core.apply(event))

    def ring(self, call_id: str, agent: str, number: str = "15550100001") -> None:
        t = self.now[0]
        self.play(
            ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", number, "", t),
            ev.IvrPathUpdated(call_id, "lang=en>menu=1"),
            ev.CallQueued(call_id, "billing", 1, t),
            ev.AgentRang(call_id, agent, "billing", t + 1),
        )

    def answer(self, call_id: str, agent: str) -> None:
        self.play(ev.CallAnswered(call_id, agent, "billing", self.now[0] + 2))

    def hang_up(self, call_id: str, agent: str) -> None:
        t = self.now[0] + 30
        self.play(ev.AgentCallCompleted(call_id, agent, t), ev.CallEnded(call_id, t, "Normal"))

    def talk(self, call_id: str, agent: str) -> None:
        """A call rung to ``agent``, answered and hung up."""
        self.ring(call_id, agent)
        self.answer(call_id, agent)
        self.hang_up(call_id, agent)


@pytest.fixture
async def desk(tmp_path: Path, db_url: str) -> AsyncIterator[Desk]:
    settings = Settings(
        database_url=db_url,
        session_ttl_s=TTL,
        recordings_dir=tmp_path / "recordings",
    )
    engine = make_engine(settings.effective_database_url)
    try:
        repository = await seeded(engine)
        now = [T0]
        ami = StubAmi()
        hotline = Hotline(settings, repository, ami, Hub(), clock=lambda: now[0])  # type: ignore[arg-type]
        async with serving(hotline, SessionStore(settings.session_ttl_s)) as client:
            yield Desk(hotline, ami, client, now)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- login


async def test_wrong_password_is_refused_with_a_clear_error(desk: Desk) -> None:
    for user, password in (("1001", "wrong"), ("nobody", PASSWORD)):
        async with desk.client.post(
            "/api/login", json={"username": user, "password": password}
        ) as r:
            assert r.status == 401
            assert await r.json() == {
                "error": "bad_credentials",
                "message": "wrong username or password",
            }
            assert "hotline_session" not in r.cookies
    assert desk.hotline.core.agents["1001"].state is AgentState.LOGGED_OUT


async def test_login_opens_a_session_and_logs_the_agent_in_paused(desk: Desk) -> None:
    async with desk.client.post("/api/login", json={"username": "1001", "password": PASSWORD}) as r:
        assert r.status == 200
        body = await r.json()
        assert r.cookies["hotline_session"].value == body["token"]
        assert r.cookies["hotline_session"]["httponly"]
    assert body["agent"]["state"] == "paused"
    assert body["name"] == "Li Na"
    assert body["config"]["pause_reasons"][0] == "break"
    assert "resolved" in body["config"]["disposition_codes"]
    status, me = await desk.get("/api/me", body["token"])
    assert status == 200 and me["username"] == "1001"


async def test_expired_session_is_refused_with_a_clear_error(desk: Desk) -> None:
    token = await desk.login("1001")
    assert (await desk.get("/api/me", token))[0] == 200
    desk.advance(TTL + 1)
    for status, body in (
        await desk.get("/api/me", token),
        await desk.post("/api/agent/state", token, {"state": "ready"}),
        await desk.post("/api/calls/c1/disposition", token, {"disposition": "resolved"}),
    ):
        assert status == 401
        assert body == {
            "error": "session_expired",
            "message": "your session has expired: log in again",
        }
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    assert refused.value.status == 401
    # an unknown token is not called expired
    status, body = await desk.get("/api/me", "not-a-token")
    assert (status, body["error"]) == (401, "unauthenticated")
    # the page's cookie (the test client kept it) says the same as the token
    async with desk.client.get("/api/me") as r:
        assert r.status == 401
        assert (await r.json())["error"] == "session_expired"
    desk.client.session.cookie_jar.clear()
    async with desk.client.get("/api/me") as r:
        assert r.status == 401
        assert await r.json() == {"error": "unauthenticated", "message": "log in first: no session"}


async def test_logout_ends_the_session_and_closes_its_websocket(desk: Desk) -> None:
    token = await desk.login("1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    status, body = await desk.post("/api/logout", token)
    assert status == 200 and body["agent"]["state"] == "logged_out"
    # the page hears it is logged out, then the socket closes with 4403
    assert (await next_of_type(ws, "agent.state"))["state"] == "logged_out"
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4403)
    assert (await desk.get("/api/me", token))[0] == 401


async def test_websocket_closes_when_its_session_expires(desk: Desk) -> None:
    desk.client.app[SESSIONS].ttl_s = 0.3  # sessions opened from now on
    token = await desk.login("1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    error = await next_of_type(ws, "error", within=5)
    assert error == {
        "error": "session_expired",
        "message": "your session has expired: log in again",
    }
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4401)


async def test_pause_needs_a_known_reason_code(desk: Desk) -> None:
    token = await desk.login("1001")
    status, body = await desk.post("/api/agent/state", token, {"state": "paused", "reason": "nap"})
    assert (status, body["error"]) == (400, "unknown_reason")
    status, body = await desk.post(
        "/api/agent/state", token, {"state": "paused", "reason": "lunch"}
    )
    assert status == 200
    assert (body["agent"]["state"], body["agent"]["pause_reason"]) == ("paused", "lunch")
    await wait_until(
        lambda: (
            desk.ami.named("QueuePause")[-1:]
            == [
                {
                    "Action": "QueuePause",
                    "Interface": "PJSIP/agent1001",
                    "Paused": "true",
                    "Reason": "lunch",
                }
            ]
        ),
        within=5,
        what="QueuePause with the reason code to reach AMI",
    )


# --------------------------------------------------------------------------- calls


async def test_acting_on_another_agents_call_is_refused(desk: Desk) -> None:
    mine, theirs = await desk.login("1001"), await desk.login("1002")
    for token in (mine, theirs):
        await desk.post("/api/agent/state", token, {"state": "ready"})
    desk.ring("c-theirs", "1002")
    desk.answer("c-theirs", "1002")
    before = len(desk.ami.actions)
    refused = "call c-theirs is not a call you are talking on"
    for path, body in (
        ("/api/calls/c-theirs/hangup", {}),
        ("/api/calls/c-theirs/transfer", {"queue": "general"}),
        ("/api/calls/c-theirs/transfer", {"agent": "1003"}),
    ):
        status, answer = await desk.post(path, mine, body)
        assert status == 403, (path, answer)
        assert answer == {"error": "not_your_call", "message": refused}
    status, answer = await desk.post(
        "/api/calls/c-theirs/disposition", mine, {"disposition": "resolved", "notes": "x"}
    )
    assert (status, answer["error"]) == (403, "not_your_call")
    assert desk.ami.actions[before:] == []  # nothing reached Asterisk
    # a call that does not exist (any more)
    status, answer = await desk.post("/api/calls/nope/hangup", mine)
    assert (status, answer["error"]) == (404, "no_such_call")
    # the agent on the call may hang it up: AMI Hangup of the caller's channel
    status, _ = await desk.post("/api/calls/c-theirs/hangup", theirs)
    assert status == 200
    assert desk.ami.named("Hangup") == [
        {"Action": "Hangup", "Channel": "PJSIP/trunk-c-theirs", "Cause": "16"}
    ]
    # after the call, its disposition still belongs to 1002 only
    desk.hang_up("c-theirs", "1002")
    await desk.hotline.drain()
    status, answer = await desk.post(
        "/api/calls/c-theirs/disposition", mine, {"disposition": "resolved"}
    )
    assert (status, answer["error"]) == (403, "not_your_call")


async def test_a_ringing_call_cannot_be_acted_on_before_it_is_answered(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c1", "1001")
    status, answer = await desk.post("/api/calls/c1/hangup", token)
    assert (status, answer["error"]) == (403, "not_your_call")


async def test_disposition_during_the_call_is_stored_with_the_cdr(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c1", "1001")
    desk.answer("c1", "1001")
    status, body = await desk.post(
        "/api/calls/c1/disposition", token, {"disposition": "follow_up", "notes": "send invoice"}
    )
    assert (status, body["stored"]) == (200, "pending")
    assert await desk.hotline.repository.cdr("c1") is None  # no CDR row yet
    desk.hang_up("c1", "1001")
    await desk.hotline.drain()
    cdr = await desk.hotline.repository.cdr("c1")
    assert cdr is not None
    assert (cdr.agent_id, cdr.agent_disposition, cdr.agent_notes) == (
        "1001",
        "follow_up",
        "send invoice",
    )
    # a later correction updates the row
    status, body = await desk.post(
        "/api/calls/c1/disposition", token, {"disposition": "resolved", "notes": "paid"}
    )
    assert (status, body["stored"]) == (200, "stored")
    cdr = await desk.hotline.repository.cdr("c1")
    assert cdr is not None and (cdr.agent_disposition, cdr.agent_notes) == ("resolved", "paid")


async def test_disposition_between_call_end_and_cdr_commit_is_not_lost(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c1", "1001")
    desk.answer("c1", "1001")
    desk.hang_up("c1", "1001")  # the CDR is on its way to the writer, not committed
    assert await desk.hotline.repository.cdr("c1") is None
    status, body = await desk.post(
        "/api/calls/c1/disposition", token, {"disposition": "callback", "notes": "after 5pm"}
    )
    assert status == 200 and body["stored"] in ("pending", "stored")
    await desk.hotline.drain()
    cdr = await desk.hotline.repository.cdr("c1")
    assert cdr is not None and (cdr.agent_disposition, cdr.agent_notes) == (
        "callback",
        "after 5pm",
    )


async def test_disposition_code_must_be_a_known_one(desk: Desk) -> None:
    token = await desk.login("1001")
    status, body = await desk.post("/api/calls/c1/disposition", token, {"disposition": "meh"})
    assert (status, body["error"]) == (400, "unknown_disposition")


async def test_blind_transfer_to_a_queue_sends_the_caller_back_to_waiting(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c1", "1001")
    desk.answer("c1", "1001")
    status, body = await desk.post("/api/calls/c1/transfer", token, {"queue": "nowhere"})
    assert (status, body["error"]) == (400, "unknown_target")
    status, body = await desk.post("/api/calls/c1/transfer", token, {"queue": "x", "agent": "y"})
    assert (status, body["error"]) == (400, "bad_request")
    desk.ami.refuse = "Channel not found"
    status, body = await desk.post("/api/calls/c1/transfer", token, {"queue": "general"})
    assert (status, body["error"]) == (502, "pbx_error")
    assert desk.hotline.core.agents["1001"].state is AgentState.TALKING  # nothing changed
    desk.ami.refuse = None
    desk.ami.actions.clear()
    status, body = await desk.post("/api/calls/c1/transfer", token, {"queue": "technical"})
    assert status == 200, body
    # the new queue, and no product left from the IVR: routed as a technical call
    assert [(a["Channel"], a["Variable"], a["Value"]) for a in desk.ami.named("Setvar")] == [
        ("PJSIP/trunk-c1", "HOTLINE_QUEUE", "technical"),
        ("PJSIP/trunk-c1", "HOTLINE_PRODUCT", ""),
    ]
    assert desk.ami.named("Redirect") == [
        {
            "Action": "Redirect",
            "Channel": "PJSIP/trunk-c1",
            "Context": "hotline-wait",
            "Exten": "s",
            "Priority": "1",
        }
    ]
    # Asterisk sends no AgentComplete for a redirected call: the agent is freed here
    assert desk.hotline.core.agents["1001"].state is AgentState.READY
    status, body = await desk.post("/api/calls/c1/transfer", token, {"queue": "general"})
    assert (status, body["error"]) == (403, "not_your_call")
    # the disposition is the next agent's
    status, body = await desk.post("/api/calls/c1/disposition", token, {"disposition": "other"})
    assert (status, body["error"]) == (409, "transferred")


async def test_blind_transfer_to_an_agent_needs_a_ready_agent(desk: Desk) -> None:
    token, other = await desk.login("1001"), await desk.login("1002")
    await desk.post("/api/agent/state", token, {"state": "ready"})
    desk.ring("c1", "1001")
    desk.answer("c1", "1001")
    status, body = await desk.post("/api/calls/c1/transfer", token, {"agent": "1002"})
    assert (status, body["error"]) == (409, "target_unavailable")  # 1002 is paused
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {other}"})
    await next_of_type(ws, "hello")
    await desk.post("/api/agent/state", other, {"state": "ready"})
    status, body = await desk.post("/api/calls/c1/transfer", token, {"agent": "1002"})
    assert status == 200, body
    assert desk.ami.named("Redirect")[-1] == {
        "Action": "Redirect",
        "Channel": "PJSIP/trunk-c1",
        "Context": "agents",
        "Exten": "1002",
        "Priority": "1",
    }
    pop = await next_of_type(ws, "screen.pop")
    assert pop["call_id"] == "c1"
    assert pop["transfer"] == {"from": "1001", "to": "1002", "kind": "agent"}
    await ws.close()


# --------------------------------------------------------------------------- WebSocket


async def test_websocket_needs_a_session_and_an_allowed_origin(desk: Desk) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_session:
        await desk.client.ws_connect("/ws")
    assert no_session.value.status == 401
    token = await desk.login("1001")
    with pytest.raises(aiohttp.WSServerHandshakeError) as bad_origin:
        await desk.client.ws_connect(
            "/ws", headers={"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}
        )
    assert bad_origin.value.status == 403
    own = f"http://{desk.client.host}:{desk.client.port}"
    ws = await desk.client.ws_connect(
        "/ws", headers={"Authorization": f"Bearer {token}", "Origin": own}
    )
    hello = await next_of_type(ws, "hello")
    assert hello["agent"]["state"] == "paused"
    await ws.send_str("not json")
    assert (await next_of_type(ws, "error"))["error"] == "bad_json"
    await ws.send_json({"type": "launch"})
    assert (await next_of_type(ws, "error"))["error"] == "unknown_type"
    await ws.close()


async def test_screen_pop_carries_customer_history_and_followups(desk: Desk) -> None:
    token = await desk.ready("1001")
    # an earlier call of the same customer, with its disposition
    desk.talk("c0", "1001")
    await desk.hotline.drain()
    await desk.post(
        "/api/calls/c0/disposition", token, {"disposition": "follow_up", "notes": "refund promised"}
    )
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    desk.now[0] += 600
    desk.play(ev.CallStarted("c1", "PJSIP/trunk-c1", "15550100001", "", desk.now[0]))
    await wait_until(
        lambda: desk.hotline.desktop.lookups_done(),
        within=5,
        what="the lookups started when the call arrived",
    )
    desk.play(
        ev.CallQueued("c1", "billing", 1, desk.now[0]),
        ev.AgentRang("c1", "1001", "billing", desk.now[0] + 3),
    )
    pop = await next_of_type(ws, "screen.pop")
    assert pop["customer"]["name"] == "Alice Johnson"
    assert pop["customer"]["tier"] == "gold"
    assert pop["customer"]["notes"] == "Open ticket: refund for order 4411."
    assert pop["verified"] is False
    assert (pop["customer_pending"], pop["context_pending"]) == (False, False)
    assert pop["crm"] == {"status": "off", "record": None}
    assert [(h["call_id"], h["disposition"], h["notes"]) for h in pop["history"]] == [
        ("c0", "follow_up", "refund promised")
    ]
    assert pop["waited_s"] == pytest.approx(3.0)
    # a reconnect (network drop) gets the same pop back in hello
    await ws.close()
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    hello = await next_of_type(ws, "hello")
    assert hello["agent"]["state"] == "ringing"
    assert hello["call"]["call_id"] == "c1"
    assert hello["call"]["customer"]["name"] == "Alice Johnson"
    assert hello["call"]["history"][0]["notes"] == "refund promised"
    # the call ends unanswered for this agent: the page is told
    desk.play(ev.CallEnded("c1", desk.now[0] + 5, "Normal"))
    ended = await next_of_type(ws, "call.ended")
    assert ended == {"call_id": "c1", "agent_id": None, "answered": False}
    await ws.close()


async def pop_after_the_pin_check(
    desk: Desk, call_id: str, verified: bool
) -> tuple[aiohttp.ClientWebSocketResponse, Any]:
    """Agent 1001 ready with its socket; a caller whose PIN check ended ``verified``
    queues and rings 1001. The socket and the screen-pop on it."""
    token = await desk.ready("1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    t = desk.now[0]
    desk.play(
        ev.CallStarted(call_id, f"PJSIP/trunk-{call_id}", "15550100001", "", t),
        ev.IdentityChecked(call_id, verified),
        ev.CallQueued(call_id, "billing", 1, t + 1),
        ev.AgentRang(call_id, "1001", "billing", t + 2),
    )
    return ws, await next_of_type(ws, "screen.pop")


async def test_a_caller_who_passed_the_pin_check_pops_verified_and_its_cdr_says_so(
    desk: Desk,
) -> None:
    ws, pop = await pop_after_the_pin_check(desk, "v1", True)
    assert (pop["call_id"], pop["verified"]) == ("v1", True)
    # the page's resync shows it the same way
    await ws.send_json({"type": "resync"})
    hello = await next_of_type(ws, "hello")
    assert hello["call"]["verified"] is True
    desk.answer("v1", "1001")
    desk.hang_up("v1", "1001")
    await desk.hotline.drain()
    row = await desk.hotline.repository.cdr("v1")
    assert row is not None and row.verified is True
    await ws.close()


async def test_a_caller_who_failed_the_pin_check_pops_not_verified(desk: Desk) -> None:
    ws, pop = await pop_after_the_pin_check(desk, "v2", False)
    assert (pop["call_id"], pop["verified"]) == ("v2", False)
    await ws.close()


async def test_hello_after_a_drop_offers_the_call_still_without_disposition(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.talk("c1", "1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    hello = await next_of_type(ws, "hello")
    assert hello["call"] is None
    assert hello["wrap_call"]["call_id"] == "c1"
    await ws.close()
    await desk.post("/api/calls/c1/disposition", token, {"disposition": "resolved"})
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    assert (await next_of_type(ws, "hello"))["wrap_call"] is None
    await ws.close()


async def test_wrap_up_countdown_is_published(desk: Desk) -> None:
    desk.hotline.core.agents["1001"].wrap_up_s = 30
    token = await desk.ready("1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    desk.talk("c1", "1001")
    while (state := await next_of_type(ws, "agent.state"))["state"] != "wrap_up":
        pass
    # the call ended at now + 30 (see Desk.hang_up): 30 s of wrap-up from then
    assert state["wrap_up_left_s"] == pytest.approx(60, abs=0.01)
    await ws.close()


# --------------------------------------------------------------------------- external CRM


class SlowCrm:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.fail = False

    async def lookup(self, number: str) -> dict[str, Any] | None:
        await self.release.wait()
        if self.fail:
            raise ConnectionError("CRM down")
        return {"name": "Alice J. (CRM)", "account": "A-77", "follow_ups": ["call back re: 4411"]}


@pytest.mark.parametrize("fails", [False, True])
async def test_slow_or_failing_crm_never_holds_the_pop_back(desk: Desk, fails: bool) -> None:
    crm = SlowCrm()
    crm.fail = fails
    desk.hotline.desktop.crm = crm
    token = await desk.ready("1001")
    ws = await desk.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    await next_of_type(ws, "hello")
    desk.ring("c1", "1001")
    pop = await next_of_type(ws, "screen.pop")
    assert pop["context_pending"] is True
    assert pop["crm"]["status"] == "pending"
    crm.release.set()
    update = await next_of_type(ws, "screen.pop")
    assert update["call_id"] == "c1" and update["context_pending"] is False
    if fails:
        assert update["crm"]["status"] == "error"
        assert "CRM down" in update["crm"]["message"]
    else:
        assert update["crm"] == {
            "status": "ok",
            "record": {
                "name": "Alice J. (CRM)",
                "account": "A-77",
                "follow_ups": ["call back re: 4411"],
            },
        }
    assert update["customer"]["name"] == "Alice Johnson"
    await ws.close()


async def test_crm_lookup_times_out_and_the_pop_is_marked(desk: Desk) -> None:
    crm = SlowCrm()  # never released
    desk.hotline.desktop.crm = crm
    desk.hotline.desktop.settings = desk.hotline.settings.model_copy(update={"crm_timeout_s": 0.2})
    result = await desk.hotline.desktop.crm_record("15550100001")
    assert result["status"] == "error"
    assert "did not answer within 0.2 s" in result["message"]


async def test_http_crm_client(unused_tcp_port: int) -> None:
    async def lookup(request: web.Request) -> web.Response:
        number = request.match_info["number"]
        assert request.headers["Authorization"] == "Bearer t0k"
        if number == "+8613800138000":
            return web.json_response({"name": "张伟", "tier": "platinum"})
        if number == "500":
            return web.Response(status=500)
        if number == "slow":
            await asyncio.sleep(5)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/customers/{number}", lookup)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    crm = HttpCrm(f"http://127.0.0.1:{unused_tcp_port}/customers/{{number}}", 0.5, "t0k")
    try:
        assert await crm.lookup("+8613800138000") == {"name": "张伟", "tier": "platinum"}
        assert await crm.lookup("15550100009") is None
        with pytest.raises(Exception, match="HTTP 500"):
            await crm.lookup("500")
        with pytest.raises(Exception, match="did not answer within 0.5 s"):
            await crm.lookup("slow")
    finally:
        await crm.close()
        await runner.cleanup()


@pytest.fixture
def unused_tcp_port() -> int:
    from tests.support.pbx_fixture import free_tcp_port

    return free_tcp_port()
