"""Supervisor pages and API: the wallboard, alarms, reports (CSV too), and the
agent's own figures of today. ``register_wallboard(app)`` adds the routes;
the handlers ask the service's ``DeskFacade`` (the wallboard itself runs in
the service, ``cti.service.hotline``).

| route | who |
|---|---|
| ``GET /wallboard`` (``?tv=1``: TV mode), ``GET /reports`` | page (logs in itself) |
| ``GET /api/wallboard`` | supervisor, admin |
| ``GET /api/wallboard/me`` | agent |
| ``GET /api/alarms?since=`` | supervisor, admin |
| ``GET /api/reports/{kind}?from=&to=&interval=&queue=&agent=&format=csv`` | supervisor, admin |
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from aiohttp import web

from cti.auth import Session
from cti.service.facade import DeskFacade

STATIC = Path(__file__).parent / "static"
SUPERVISORS = ("supervisor", "admin")
#: report kinds of the API and the report group each is
REPORTS = {
    "total": "total",
    "intervals": "interval",
    "days": "day",
    "queues": "queue",
    "agents": "agent",
    "dispositions": "disposition",
    "sessions": "sessions",
    "waits": "waits",
}
MAX_SPAN_DAYS = 366

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _desk(request: web.Request) -> DeskFacade:
    from cti.web.app import DESK

    return request.app[DESK]


def _session(request: web.Request, roles: tuple[str, ...]) -> Session:
    # cti.web.app registers this module: its helpers are imported when used
    from cti.web.app import current_session, error

    session = current_session(request)
    if session.role not in roles:
        raise error(403, "forbidden", f"role {session.role!r} may not do this")
    return session


def _bad(message: str) -> web.HTTPException:
    from cti.web.app import error

    return error(400, "bad_request", message)


async def wallboard_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "wallboard.html")


async def reports_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "reports.html")


async def board(request: web.Request) -> web.Response:
    _session(request, SUPERVISORS)
    return web.json_response(_desk(request).board())


async def my_figures(request: web.Request) -> web.Response:
    session = _session(request, ("agent",))
    return web.json_response(_desk(request).my_figures(session.username))


async def alarms(request: web.Request) -> web.Response:
    _session(request, SUPERVISORS)
    desk = _desk(request)
    since = _number(request.query.get("since"), desk.now() - 86400, "since")
    return web.json_response(await desk.alarms(since))


async def report(request: web.Request) -> web.StreamResponse:
    _session(request, SUPERVISORS)
    desk = _desk(request)
    kind = request.match_info["kind"]
    if kind not in REPORTS:
        raise _bad(f"report must be one of {sorted(REPORTS)}")
    query = request.query
    calendar = desk.calendar
    now = desk.now()
    start = _moment(query.get("from"), calendar.day_start(now), calendar.zone, "from")
    end = _moment(query.get("to"), calendar.next_day(calendar.day_start(now)), calendar.zone, "to")
    if "to" in query and _is_date(query["to"]):
        end = calendar.next_day(end)  # a date "to" includes that day
    if not start < end:
        raise _bad("'from' must be before 'to'")
    if end - start > MAX_SPAN_DAYS * 86400 + 3600:
        raise _bad(f"a report spans at most {MAX_SPAN_DAYS} days")
    interval = query.get("interval", "15")
    if interval not in ("15", "30", "60"):
        raise _bad("interval must be 15, 30 or 60 (minutes)")
    queue, agent = query.get("queue") or None, query.get("agent") or None
    for name, value in (("queue", queue), ("agent", agent)):
        if value is not None and (len(value) > 64 or not value.replace("-", "").isalnum()):
            raise _bad(f"{name} must be a name of letters, digits and '-'")
    rows = await desk.report(
        REPORTS[kind], start, end, interval_s=int(interval) * 60, queue=queue, agent=agent
    )
    fmt = query.get("format", "json")
    if fmt == "csv":
        return web.Response(
            text=to_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="hotline-{kind}.csv"'},
        )
    if fmt != "json":
        raise _bad("format must be json or csv")
    return web.json_response(
        {
            "report": kind,
            "from": start,
            "to": end,
            "timezone": desk.timezone,
            "interval_min": int(interval),
            "queue": queue,
            "agent": agent,
            "rows": rows,
        }
    )


def _is_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-"


def _number(text: str | None, default: float, name: str) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise _bad(f"{name} must be a number (epoch seconds)") from exc
    if not math.isfinite(value):
        raise _bad(f"{name} must be a finite number")
    return value


def _moment(text: str | None, default: float, zone: Any, name: str) -> float:
    """A date (local midnight), a local ISO date-time, or epoch seconds."""
    if text is None or text == "":
        return default
    try:
        if _is_date(text):
            return datetime.combine(date.fromisoformat(text), time(), zone).timestamp()
        if "T" in text or " " in text:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return moment.timestamp()
    except ValueError as exc:
        raise _bad(f"{name}: not a date (YYYY-MM-DD) or date-time: {text[:40]!r}") from exc
    return _number(text, default, name)


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV; nested mappings (paused by reason) become columns of their own."""
    flat: list[dict[str, Any]] = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                for sub, inner in value.items():
                    out[f"{key}.{sub}"] = inner
            else:
                out[key] = value
        flat.append(out)
    columns: list[str] = []
    for row in flat:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in flat:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def register_wallboard(app: web.Application) -> None:
    """Routes of the wallboard feature (pages and API)."""
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/api/wallboard", board)
    app.router.add_get("/api/wallboard/me", my_figures)
    app.router.add_get("/api/alarms", alarms)
    app.router.add_get("/api/reports/{kind}", report)
