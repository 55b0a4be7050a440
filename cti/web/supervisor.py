"""Supervisor call monitoring: ``GET /api/supervisor/live``, ``POST /api/supervisor/monitor``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.domain.model import AgentState
from cti.supervision.service import Monitoring, Supervisor
from cti.supervision.spy import SpyRefused, parse_mode
from cti.web.app import HOTLINE, SESSION, _json_body, error, require
from cti.web.audit import audit_log

MONITORING = web.AppKey("monitoring", Monitoring)


@require("supervisor", "admin")
async def live_calls(request: web.Request) -> web.Response:
    """Agents on a call now: who, which call, since when, the caller's queue."""
    hotline = request.app[HOTLINE]
    now = hotline.clock()
    rows: list[dict[str, Any]] = []
    for agent in sorted(hotline.core.agent_snapshots(), key=lambda a: a.agent_id):
        if agent.state is not AgentState.TALKING or agent.call_id is None:
            continue
        call = hotline.core.calls.get(agent.call_id)
        rows.append(
            {
                "agent": agent.agent_id,
                "name": hotline.agent_names.get(agent.agent_id, agent.agent_id),
                "call_id": agent.call_id,
                "queue": call.queue if call is not None else None,
                "talking_s": round(max(0.0, now - agent.state_since)),
            }
        )
    return web.json_response({"calls": rows})


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
        order = await request.app[MONITORING].start(
            Supervisor(session.username, session.role), agent, mode
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
    app[MONITORING] = Monitoring(app[HOTLINE], audit_log(app))
    app.router.add_get("/api/supervisor/live", live_calls)
    app.router.add_post("/api/supervisor/monitor", monitor)
