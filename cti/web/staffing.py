"""The staffing page (``/staffing``) and ``GET /api/staffing`` (supervisors and admins)."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from cti.staffing.report import StaffingRequestError
from cti.web.app import STATIC, SUPERVISION, error, require


def _query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 4:
        raise error(400, "bad_request", f"{name} must be a whole number")
    return int(raw)


@require("supervisor", "admin")
async def staffing(request: web.Request) -> web.Response:
    """Query: ``date`` (YYYY-MM-DD, default tomorrow), ``weeks`` (4), ``interval``
    (15, 30, 60; default 30), ``weighting`` (equal, recent)."""
    raw_date = request.query.get("date")
    try:
        day = date.fromisoformat(raw_date) if raw_date else date.today() + timedelta(days=1)
    except ValueError as exc:
        raise error(400, "bad_request", "date must be YYYY-MM-DD") from exc
    weighting = request.query.get("weighting", "equal")
    if weighting not in ("equal", "recent"):
        raise error(400, "bad_request", "weighting must be 'equal' or 'recent'")
    try:
        plan = await request.app[SUPERVISION].staffing_plan(
            day,
            weeks=_query_int(request, "weeks", 4),
            interval_min=_query_int(request, "interval", 30),
            weighting="recent" if weighting == "recent" else "equal",
        )
    except StaffingRequestError as exc:
        raise error(400, "bad_request", str(exc)) from exc
    return web.json_response(plan)


async def staffing_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "staffing.html")


def setup(app: web.Application) -> None:
    app.router.add_get("/staffing", staffing_page)
    app.router.add_get("/api/staffing", staffing)
