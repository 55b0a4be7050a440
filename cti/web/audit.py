"""``GET /api/audit``: the audit log, newest first (supervisors and admins)."""

from __future__ import annotations

from aiohttp import web

from cti.web.app import SUPERVISION, error, require

MAX_LIMIT = 500


def _int_param(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise error(400, "bad_request", f"{name} must be a positive whole number")
    return int(raw)


@require("supervisor", "admin")
async def list_audit(request: web.Request) -> web.Response:
    """Query: ``limit`` (1..500, default 100), ``before`` (an id: older entries),
    ``action``, ``username``."""
    limit = _int_param(request, "limit", 100) or 100
    before = _int_param(request, "before", None)
    action = request.query.get("action") or None
    username = request.query.get("username") or None
    for name, value in (("action", action), ("username", username)):
        if value is not None and len(value) > 64:
            raise error(400, "bad_request", f"{name} is too long")
    entries = await request.app[SUPERVISION].audit_entries(
        limit=min(limit, MAX_LIMIT), before_id=before, action=action, username=username
    )
    return web.json_response({"entries": [e.as_json() for e in entries]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/audit", list_audit)
