"""``GET /metrics``: the operations metrics in Prometheus' text format (see ``cti.metrics``).

Not open to the world: a scraper sends ``Authorization: Bearer <metrics_bearer_token>``
(settings; compared in constant time), or an admin's session (cookie or bearer) is
used. Without either: 401; another role: 403.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from cti.auth import SessionStore
from cti.service.facade import DeskFacade

SESSION_COOKIE = "hotline_session"


def _refusal(status: int, code: str, message: str) -> web.Response:
    body = json.dumps({"error": code, "message": message})
    return web.Response(status=status, text=body, content_type="application/json")


def add_metrics_route(app: web.Application, desk: DeskFacade, sessions: SessionStore) -> None:
    """Register ``GET /metrics`` on ``app``."""

    async def metrics(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        bearer = header[7:].strip() if header.startswith("Bearer ") else ""
        scraper_token = desk.settings.metrics_bearer_token.get_secret_value()
        if not (scraper_token and bearer and hmac.compare_digest(bearer, scraper_token)):
            token = bearer or request.cookies.get(SESSION_COOKIE, "")
            session = sessions.get(token, desk.now()) if token else None
            if session is None:
                return _refusal(401, "unauthenticated", "a metrics token or an admin session")
            if session.role != "admin":
                return _refusal(403, "forbidden", f"role {session.role!r} may not read metrics")
        return web.Response(
            body=desk.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/metrics", metrics)
