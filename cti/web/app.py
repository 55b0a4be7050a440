"""HTTP API, WebSocket and pages.

Every API route and the WebSocket need a session (cookie ``hotline_session``
or ``Authorization: Bearer``); roles are checked per route. Only the login
page and its static files are public. Errors are JSON objects
``{"error": code, "message": text}`` (codes listed in the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from cti.auth import Session, SessionStore, TooManySessions
from cti.domain.call_control import CallActionRefused, RefusalCode
from cti.domain.callcenter import AgentCommandRefused
from cti.service.facade import DeskFacade
from cti.service.qa import QaFacade
from cti.service.supervision import SupervisorFacade
from cti.web.hub import FEEDS, PROTOCOL_VERSION, Hub, Subscriber, TooManySockets
from cti.web.json_limits import JsonRefused, loads_limited
from cti.web.login_guard import LOGIN_GUARD, register_login_guard
from cti.web.metrics import add_metrics_route
from cti.web.request_guard import request_guard
from cti.web.wallboard import register_wallboard

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "hotline_session"
DESK = web.AppKey("desk", DeskFacade)
SESSIONS = web.AppKey("sessions", SessionStore)
HUB = web.AppKey("hub", Hub)
SUPERVISION = web.AppKey("supervision", SupervisorFacade)  # supervisor pages
QA = web.AppKey("qa", QaFacade)  # the QA page
ALLOWED_ORIGINS = web.AppKey("allowed_origins", frozenset[str])
ISSUED = web.AppKey("issued", dict[str, float])  # token -> expiry, to tell "expired" apart
SESSION = web.RequestKey("session", Session)
MAX_WS_MESSAGE = 16 * 1024
# WebSocket close codes (4000-4999 are the application's own)
WS_SESSION_EXPIRED = 4401
WS_LOGGED_OUT = 4403

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: HTTP status of each refused call action
REFUSAL_STATUS = {
    RefusalCode.NO_SUCH_CALL: 404,
    RefusalCode.NOT_YOUR_CALL: 403,
    RefusalCode.UNKNOWN_TARGET: 400,
    RefusalCode.TARGET_UNAVAILABLE: 409,
    RefusalCode.BAD_REQUEST: 400,
    RefusalCode.TRANSFERRED: 409,
    RefusalCode.PBX_ERROR: 502,
    RefusalCode.NO_RECORDING: 409,
}


def error(status: int, code: str, message: str) -> web.HTTPException:
    body = json.dumps({"error": code, "message": message})
    cls = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        429: web.HTTPTooManyRequests,
        502: web.HTTPBadGateway,
    }[status]
    return cls(text=body, content_type="application/json")


def refused(exc: CallActionRefused) -> web.HTTPException:
    return error(REFUSAL_STATUS[exc.code], exc.code.value, exc.message)


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def current_session(request: web.Request) -> Session:
    token = _token(request)
    if not token:
        raise error(401, "unauthenticated", "log in first: no session")
    now = request.app[DESK].now()
    session = request.app[SESSIONS].get(token, now)
    if session is None:
        expired_at = request.app[ISSUED].get(token)
        if expired_at is not None and expired_at <= now:
            raise error(401, "session_expired", "your session has expired: log in again")
        raise error(401, "unauthenticated", "log in first: unknown session")
    return session


def _remember_session(app: web.Application, session: Session, now: float) -> None:
    """Keep expiry times a while after expiry, to answer "expired" rather than "unknown"."""
    issued = app[ISSUED]
    keep = app[SESSIONS].ttl_s
    for token in [t for t, at in issued.items() if at + keep < now]:
        del issued[token]
    issued[session.token] = session.expires_at


def require(*roles: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = current_session(request)
            if session.role not in roles:
                raise error(403, "forbidden", f"role {session.role!r} may not do this")
            request[SESSION] = session
            return await handler(request)

        return guarded

    return wrap


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise error(400, "bad_request", "send a JSON body (Content-Type: application/json)")
    try:
        body = loads_limited(
            await request.read(), max_depth=request.app[DESK].settings.web_json_max_depth
        )
    except JsonRefused as exc:
        raise error(400, "bad_request", f"body refused: {exc.message}") from exc
    if not isinstance(body, dict):
        raise error(400, "bad_request", "body must be a JSON object")
    return body


async def login(request: web.Request) -> web.Response:
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise error(400, "bad_request", "username and password are required strings")
    desk = request.app[DESK]
    # off the event loop, throttled per user and address (cti/web/login_guard.py)
    guard = request.app[LOGIN_GUARD]
    user = await guard.authenticate(desk, username, password, request.remote)
    if user is None:
        raise error(401, "bad_credentials", "wrong username or password")
    # a page for some roles only (``"roles": [...]``) refuses the others here,
    # before a session is opened or an agent joins its queues
    roles = body.get("roles")
    if roles is not None:
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise error(400, "bad_request", "roles must be a list of role names")
        if user.role not in roles:
            raise error(403, "forbidden", f"role {user.role!r} may not use this page")
    if user.role == "agent" and not desk.is_agent(user.username):
        raise error(409, "refused", f"agent {user.username} is not set up on this server")
    try:
        session = request.app[SESSIONS].open(user.username, user.role, desk.now())
    except TooManySessions as exc:
        raise error(429, "too_many_sessions", str(exc)) from exc
    _remember_session(request.app, session, desk.now())
    data: dict[str, Any] = {
        "token": session.token,
        "username": user.username,
        "name": user.display_name or user.username,
        "role": user.role,
        "expires_in_s": round(session.expires_at - desk.now()),
        "config": desk_config(desk),
    }
    if user.role == "agent":
        try:
            data["agent"] = desk.login(user.username)
        except AgentCommandRefused as exc:
            raise error(409, "refused", exc.message) from exc
    response = web.json_response(data)
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        max_age=int(desk.settings.session_ttl_s),
    )
    return response


@require("agent", "qa", "supervisor", "admin")
async def logout(request: web.Request) -> web.Response:
    """End the session; an agent not on a call also leaves the queues."""
    session = request[SESSION]
    desk = request.app[DESK]
    data: dict[str, Any] = {"ok": True}
    if desk.is_agent(session.username):
        with contextlib.suppress(AgentCommandRefused):
            data["agent"] = desk.logout(session.username)
    request.app[SESSIONS].close(session.token)
    await request.app[HUB].close_session(session.token, WS_LOGGED_OUT, "logged out")
    response = web.json_response(data)
    response.del_cookie(COOKIE)
    return response


@require("agent", "qa", "supervisor", "admin")
async def me(request: web.Request) -> web.Response:
    session = request[SESSION]
    desk = request.app[DESK]
    data: dict[str, Any] = {
        "username": session.username,
        "name": desk.name_of(session.username),
        "role": session.role,
        "expires_in_s": round(session.expires_at - desk.now()),
        "config": desk_config(desk),
    }
    agent = desk.agent_view(session.username)
    if agent is not None:
        data["agent"] = agent
    return web.json_response(data)


def desk_config(desk: DeskFacade) -> dict[str, Any]:
    """What the agent page offers: reason and disposition codes, transfer queues."""
    settings = desk.settings
    return {
        "protocol": PROTOCOL_VERSION,
        "pause_reasons": list(settings.pause_reasons),
        "disposition_codes": list(settings.disposition_codes),
        "queues": desk.queues(),
    }


@require("agent", "supervisor", "admin")
async def directory(request: web.Request) -> web.Response:
    """Transfer targets: queues and agents with their state."""
    desk = request.app[DESK]
    return web.json_response({"queues": desk.queues(), "agents": desk.directory()})


AGENT_STATES = ("ready", "paused", "logged_out", "logged_in")


@require("agent")
async def agent_state(request: web.Request) -> web.Response:
    session = request[SESSION]
    body = await _json_body(request)
    state = body.get("state")
    if state not in AGENT_STATES:
        raise error(400, "bad_request", f"state must be one of {sorted(AGENT_STATES)}")
    desk = request.app[DESK]
    reason = body.get("reason", "")
    if state == "paused":
        reasons = desk.settings.pause_reasons
        if reason not in reasons:
            raise error(400, "unknown_reason", f"pause reason must be one of {reasons}")
    agent_id = session.username
    try:
        if state == "ready":
            view = desk.ready(agent_id)
        elif state == "paused":
            view = desk.pause(agent_id, reason)
        elif state == "logged_out":
            view = desk.logout(agent_id)
        else:
            view = desk.login(agent_id)
    except AgentCommandRefused as exc:
        raise error(409, "refused", exc.message) from exc
    return web.json_response({"agent": view})


@require("agent")
async def call_disposition(request: web.Request) -> web.Response:
    """Disposition code and notes of a call the agent answered.

    Accepted during the call and at any time after it: ``stored`` says
    whether it is in the CDR row already or ``pending`` (kept, and written in
    the CDR's own transaction when the call ends).
    """
    session = request[SESSION]
    body = await _json_body(request)
    desk = request.app[DESK]
    code, notes = body.get("disposition"), body.get("notes", "")
    codes = desk.settings.disposition_codes
    if not isinstance(code, str) or code not in codes:
        raise error(400, "unknown_disposition", f"disposition must be one of {codes}")
    if not isinstance(notes, str) or len(notes) > 4000:
        raise error(400, "bad_request", "notes must be a string of at most 4000 characters")
    call_id = request.match_info["call_id"]
    try:
        stored = await desk.disposition(session.username, call_id, code, notes)
    except CallActionRefused as exc:
        raise refused(exc) from exc
    return web.json_response({"ok": True, "call_id": call_id, "stored": stored.value})


@require("agent")
async def call_hangup(request: web.Request) -> web.Response:
    await _json_body(request)  # JSON only: no plain form can post here cross-site
    call_id = request.match_info["call_id"]
    try:
        await request.app[DESK].hangup(request[SESSION].username, call_id)
    except CallActionRefused as exc:
        raise refused(exc) from exc
    return web.json_response({"ok": True, "call_id": call_id})


@require("agent")
async def call_transfer(request: web.Request) -> web.Response:
    """Blind transfer: body ``{"queue": name}`` or ``{"agent": id}``."""
    body = await _json_body(request)
    targets = [(kind, body[kind]) for kind in ("queue", "agent") if kind in body]
    if len(targets) != 1 or not isinstance(targets[0][1], str) or not targets[0][1]:
        raise error(400, "bad_request", 'send {"queue": name} or {"agent": id}')
    kind, target = targets[0]
    call_id = request.match_info["call_id"]
    try:
        await request.app[DESK].transfer(request[SESSION].username, call_id, kind, target)
    except CallActionRefused as exc:
        raise refused(exc) from exc
    return web.json_response({"ok": True, "call_id": call_id, kind: target})


@require("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    return web.json_response(request.app[DESK].agents_view())


@require("supervisor", "admin")
async def list_calls(request: web.Request) -> web.Response:
    return web.json_response(request.app[DESK].calls_view())


async def websocket(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_allowed(request, origin):
        raise error(403, "bad_origin", f"origin {origin!r} is not allowed")
    hub, desk = request.app[HUB], request.app[DESK]
    feed = request.query.get("feed", "")
    if feed not in FEEDS:
        raise error(400, "bad_request", f"unknown feed {feed!r}: one of {sorted(FEEDS)}")
    try:
        hub.check_room(session.token)
    except TooManySockets as exc:
        raise error(429, "too_many_sockets", str(exc)) from exc
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_WS_MESSAGE)
    await ws.prepare(request)
    sub = hub.attach(ws, session.username, session.role, session.token, request.transport, feed)
    expiring = asyncio.Event()
    expiry = asyncio.create_task(_close_at_expiry(hub, sub, desk, session, expiring))
    try:
        hub.send(sub, "hello", _resync_payload(desk, session))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            reply = _ws_command(desk, session, msg.data)
            if not hub.is_attached(sub):
                break  # closed as too slow
            hub.send(sub, reply[0], reply[1])
    finally:
        if not expiring.is_set():
            expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            async with asyncio.timeout(5):
                await expiry
        await hub.detach(sub)
    return ws


async def _close_at_expiry(
    hub: Hub, sub: Subscriber, desk: DeskFacade, session: Session, expiring: asyncio.Event
) -> None:
    """A socket lives no longer than its session: tell the page, then close."""
    await asyncio.sleep(max(0.0, session.expires_at - desk.now()))
    expiring.set()
    message = "your session has expired: log in again"
    hub.send(sub, "error", {"error": "session_expired", "message": message})
    await hub.close(sub, WS_SESSION_EXPIRED, "session expired")


def _resync_payload(desk: DeskFacade, session: Session) -> dict[str, Any]:
    """Everything the page shows, so a reconnect after a drop loses nothing."""
    data: dict[str, Any] = {
        "username": session.username,
        "role": session.role,
        "expires_in_s": round(session.expires_at - desk.now()),
        "config": desk_config(desk),
        "call": desk.current_pop(session.username),
        "wrap_call": desk.wrap_call(session.username),
    }
    agent = desk.agent_view(session.username)
    if agent is not None:
        data["agent"] = agent
    return data


def _ws_command(desk: DeskFacade, session: Session, raw: str) -> tuple[str, dict[str, Any]]:
    """Commands a client may send: ping, resync. Anything else is refused."""
    try:
        msg = loads_limited(raw, max_depth=desk.settings.web_json_max_depth)
    except JsonRefused as exc:
        return "error", {"error": exc.code, "message": f"message refused: {exc.message}"}
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return "error", {"error": "bad_message", "message": "a message needs a string 'type'"}
    kind = msg["type"]
    if kind == "ping":
        return "pong", {}
    if kind == "resync":
        return "hello", _resync_payload(desk, session)
    return "error", {"error": "unknown_type", "message": f"unknown message type {kind[:40]!r}"}


def _origin_allowed(request: web.Request, origin: str) -> bool:
    allowed = request.app[ALLOWED_ORIGINS]
    if origin in allowed:
        return True
    return origin in (f"http://{request.host}", f"https://{request.host}")


async def agent_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "agent.html")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/agent")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    return response


def build_app(
    desk: DeskFacade, sessions: SessionStore, supervision: SupervisorFacade, qa: QaFacade
) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, request_guard(desk.settings, COOKIE)],
        client_max_size=64 * 1024,
    )
    app[DESK] = desk
    app[SUPERVISION] = supervision
    app[QA] = qa
    app[SESSIONS] = sessions
    app[HUB] = desk.hub
    app[ALLOWED_ORIGINS] = frozenset(desk.settings.web_allowed_origins)
    app[ISSUED] = {}
    register_login_guard(app, desk.settings)  # password checks, throttling
    app.router.add_get("/", root)
    app.router.add_get("/agent", agent_page)
    app.router.add_static("/static", STATIC)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/agent/state", agent_state)
    app.router.add_get("/api/directory", directory)
    app.router.add_post("/api/calls/{call_id}/disposition", call_disposition)
    app.router.add_post("/api/calls/{call_id}/hangup", call_hangup)
    app.router.add_post("/api/calls/{call_id}/transfer", call_transfer)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/ws", websocket)
    add_metrics_route(app, desk, sessions)  # GET /metrics (cti/web/metrics.py)
    register_wallboard(app)  # the wallboard, alarms, reports
    # feature routes: each module registers its own (imported here: they import this one)
    from cti.web import audit, crisis, staffing, supervisor
    from cti.web import qa as qa_routes

    for feature in (audit, staffing, supervisor, qa_routes, crisis):
        feature.setup(app)

    async def close_sockets(_: web.Application) -> None:
        await desk.hub.close_all()

    app.on_shutdown.append(close_sockets)
    return app
