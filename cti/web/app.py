"""HTTP API, WebSocket and pages.

Every API route and the WebSocket need a session (cookie ``hotline_session``
or ``Authorization: Bearer``); roles are checked per route. Only the login
page and its static files are public.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from cti.auth import Session, SessionStore, verify_password
from cti.domain.callcenter import AgentCommandRefused
from cti.service import Hotline, agent_json, call_json
from cti.web.hub import Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "hotline_session"
HOTLINE = web.AppKey("hotline", Hotline)
SESSIONS = web.AppKey("sessions", SessionStore)
HUB = web.AppKey("hub", Hub)
ALLOWED_ORIGINS = web.AppKey("allowed_origins", frozenset[str])
SESSION = web.RequestKey("session", Session)
MAX_WS_MESSAGE = 16 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str) -> web.HTTPException:
    body = json.dumps({"error": code, "message": message})
    cls = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
    }[status]
    return cls(text=body, content_type="application/json")


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def current_session(request: web.Request) -> Session:
    token = _token(request)
    hotline = request.app[HOTLINE]
    session = request.app[SESSIONS].get(token, hotline.clock()) if token else None
    if session is None:
        raise error(401, "unauthenticated", "log in first (missing, unknown or expired session)")
    return session


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
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(400, "bad_request", "body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise error(400, "bad_request", "body must be a JSON object")
    return body


async def login(request: web.Request) -> web.Response:
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise error(400, "bad_request", "username and password are required strings")
    hotline = request.app[HOTLINE]
    user = await hotline.repository.user(username)
    if user is None or not verify_password(password, user.password_hash):
        raise error(401, "bad_credentials", "wrong username or password")
    session = request.app[SESSIONS].open(user.username, user.role, hotline.clock())
    data: dict[str, Any] = {"token": session.token, "username": user.username, "role": user.role}
    if user.role == "agent":
        try:
            data["agent"] = agent_json(hotline.agent_command("login", user.username))
        except AgentCommandRefused as exc:
            raise error(409, "refused", exc.message) from exc
    response = web.json_response(data)
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        max_age=int(hotline.settings.session_ttl_s),
    )
    return response


@require("agent", "qa", "supervisor", "admin")
async def logout(request: web.Request) -> web.Response:
    session = request[SESSION]
    request.app[SESSIONS].close(session.token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE)
    return response


@require("agent", "qa", "supervisor", "admin")
async def me(request: web.Request) -> web.Response:
    session = request[SESSION]
    data: dict[str, Any] = {"username": session.username, "role": session.role}
    agent = request.app[HOTLINE].core.agents.get(session.username)
    if agent is not None:
        data["agent"] = agent_json(agent.snapshot())
    return web.json_response(data)


@require("agent")
async def agent_state(request: web.Request) -> web.Response:
    session = request[SESSION]
    body = await _json_body(request)
    state = body.get("state")
    commands = {"ready": "ready", "paused": "pause", "logged_out": "logout", "logged_in": "login"}
    if state not in commands:
        raise error(400, "bad_request", f"state must be one of {sorted(commands)}")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 64:
        raise error(400, "bad_request", "reason must be a string of at most 64 characters")
    try:
        snapshot = request.app[HOTLINE].agent_command(
            commands[state], session.username, reason=reason
        )
    except AgentCommandRefused as exc:
        raise error(409, "refused", exc.message) from exc
    return web.json_response({"agent": agent_json(snapshot)})


@require("agent")
async def call_disposition(request: web.Request) -> web.Response:
    session = request[SESSION]
    body = await _json_body(request)
    code, notes = body.get("disposition"), body.get("notes", "")
    if not isinstance(code, str) or not code or len(code) > 64:
        raise error(400, "bad_request", "disposition must be a non-empty string (max 64)")
    if not isinstance(notes, str) or len(notes) > 4000:
        raise error(400, "bad_request", "notes must be a string of at most 4000 characters")
    call_id = request.match_info["call_id"]
    ok = await request.app[HOTLINE].repository.set_agent_disposition(
        call_id, session.username, code, notes
    )
    if not ok:
        raise error(403, "not_your_call", f"call {call_id} is not a finished call of yours")
    return web.json_response({"ok": True})


@require("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    hotline = request.app[HOTLINE]
    return web.json_response([agent_json(a) for a in hotline.core.agent_snapshots()])


@require("supervisor", "admin")
async def list_calls(request: web.Request) -> web.Response:
    hotline = request.app[HOTLINE]
    return web.json_response([call_json(c) for c in hotline.core.call_snapshots(hotline.clock())])


async def websocket(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_allowed(request, origin):
        raise error(403, "bad_origin", f"origin {origin!r} is not allowed")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_WS_MESSAGE)
    await ws.prepare(request)
    hub, hotline = request.app[HUB], request.app[HOTLINE]
    sub = hub.attach(ws, session.username, session.role)
    try:
        hub.send(sub, "hello", _resync_payload(hotline, session))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            reply = _ws_command(hotline, session, msg.data)
            hub.send(sub, reply[0], reply[1])
    finally:
        await hub.detach(sub)
    return ws


def _resync_payload(hotline: Hotline, session: Session) -> dict[str, Any]:
    data: dict[str, Any] = {"username": session.username, "role": session.role}
    agent = hotline.core.agents.get(session.username)
    if agent is not None:
        data["agent"] = agent_json(agent.snapshot())
        if agent.call_id and agent.call_id in hotline.core.calls:
            data["call"] = call_json(hotline.core.calls[agent.call_id].snapshot(hotline.clock()))
    return data


def _ws_command(hotline: Hotline, session: Session, raw: str) -> tuple[str, dict[str, Any]]:
    """Commands a client may send: ping, resync. Anything else is refused."""
    try:
        msg = json.loads(raw)
    except json.JSONDecodeError:
        return "error", {"error": "bad_json", "message": "messages must be JSON objects"}
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return "error", {"error": "bad_message", "message": "a message needs a string 'type'"}
    kind = msg["type"]
    if kind == "ping":
        return "pong", {}
    if kind == "resync":
        return "hello", _resync_payload(hotline, session)
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
    return response


def build_app(hotline: Hotline, sessions: SessionStore) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=64 * 1024)
    app[HOTLINE] = hotline
    app[SESSIONS] = sessions
    app[HUB] = hotline.hub
    app[ALLOWED_ORIGINS] = frozenset(hotline.settings.web_allowed_origins)
    app.router.add_get("/", root)
    app.router.add_get("/agent", agent_page)
    app.router.add_static("/static", STATIC)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/agent/state", agent_state)
    app.router.add_post("/api/calls/{call_id}/disposition", call_disposition)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/ws", websocket)

    async def close_sockets(_: web.Application) -> None:
        await hotline.hub.close_all()

    app.on_shutdown.append(close_sockets)
    return app
