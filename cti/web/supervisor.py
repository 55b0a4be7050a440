"""Supervisor call monitoring: ``GET /api/supervisor/live``, ``POST /api/supervisor/monitor``."""

from __future__ import annotations

from aiohttp import web

from cti.supervision.spy import SpyRefused, parse_mode
from cti.web.app import SESSION, SUPERVISION, _json_body, error, require


@require("supervisor", "admin")
async def live_calls(request: web.Request) -> web.Response:
    """Agents on a call now: who, which call, since when, the caller's queue."""
    return web.json_response({"calls": request.app[SUPERVISION].live_calls()})


@require("supervisor", "admin")
async def monitor(request: web.Request) -> web.Response:
    """Body ``{"agent": id, "mode": "listen" | "whisper" | "barge"}``: the
    supervisor's own phone rings; answered, it joins the agent's call."""
    body = await _json_body(request)
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent or len(agent) > 64:
        raise error(400, "bad_request", "agent must be an agent id")
    session = request[SESSION]
    try:
        mode = parse_mode(body.get("mode"))
        order = await request.app[SUPERVISION].start_monitoring(
            session.username, session.role, agent, mode
        )
    except SpyRefused as exc:
        raise error(exc.status, exc.code, exc.message) from exc
    return web.json_response(
        {
            "ok": True,
            "agent": order.agent_id,
            "mode": order.mode.value,
            "call_id": order.call_id,
            "phone": order.supervisor_interface,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/supervisor/live", live_calls)
    app.router.add_post("/api/supervisor/monitor", monitor)
