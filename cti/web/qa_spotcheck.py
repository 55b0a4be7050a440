"""QA web: the week's spot-check sample and putting a call on hold.

- ``GET /api/qa/sample?week=2026-W49`` (default: this week): each agent's
  calls of the week and those in the sample (``qa_sample_percent`` of them,
  at least one; the same for everyone who asks). The QA search narrows to it
  with ``sample=true&week=...``.
- ``POST /api/qa/calls/{call_id}/hold`` ``{"hold": bool}``: tag the call
  ``hold`` (its recordings and transcript are kept from retention) or remove
  the tag; each change is written to the audit log (``qa.hold``/``qa.unhold``).
"""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from cti.service.qa import HOLD, UNHOLD
from cti.web.app import QA, SESSION, _json_body, error
from cti.web.qa import qa_access, week_param


@qa_access
async def sample(request: web.Request) -> web.Response:
    qa = request.app[QA]
    week = week_param(request.query.get("week"), qa.now())
    calls = await qa.store.agent_calls(week.start, week.end)
    sampled = await qa.sample(week)
    per_agent = Counter(agent for _, agent in calls)
    return web.json_response(
        {
            "week": week.label,
            "start": week.start.isoformat(),
            "end": week.end.isoformat(),
            "percent": qa.sample_percent,
            "agents": [
                {"agent_id": agent, "calls": per_agent[agent], "sample": ids}
                for agent, ids in sampled.items()
            ],
            "calls": sorted(c for ids in sampled.values() for c in ids),
        }
    )


@qa_access
async def hold(request: web.Request) -> web.Response:
    body = await _json_body(request)
    on = body.get("hold")
    if not isinstance(on, bool):
        raise error(400, "bad_request", 'send {"hold": true} or {"hold": false}')
    call_id = request.match_info["call_id"]
    qa = request.app[QA]
    if await qa.store.detail(call_id) is None:
        raise error(404, "no_such_call", f"no call {call_id[:64]!r}")
    session = request[SESSION]
    changed = await qa.store.set_hold(call_id, session.username, qa.now(), on)
    if changed:
        await qa.audit_access(
            session.username, session.role, HOLD if on else UNHOLD, call_id, request.remote
        )
    return web.json_response({"ok": True, "call_id": call_id, "hold": on, "changed": changed})


def setup(app: web.Application) -> None:
    """Register the sample and hold routes on ``app``."""
    app.router.add_get("/api/qa/sample", sample)
    app.router.add_post("/api/qa/calls/{call_id}/hold", hold)
