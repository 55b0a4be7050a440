"""Cross-site guards for every state-changing request, and the cookie's Secure flag.

* A POST (or PUT, PATCH, DELETE) under ``/api/`` must come from the page's own
  origin or an allow-listed one (``web_allowed_origins``) when the browser
  says where it comes from (``Origin``; ``Sec-Fetch-Site`` when Origin is
  absent), and must carry a JSON body type: a plain HTML form can do neither.
* The session cookie is marked ``Secure`` when the site is served over TLS:
  always with ``web_secure_cookies``, or when the request came over TLS, or
  from a trusted proxy (``web_trusted_proxies``) saying
  ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from cti.config import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": code, "message": message}),
        content_type="application/json",
    )


def origin_allowed(request: web.Request, origin: str, allowed: frozenset[str]) -> bool:
    """Same origin as the request's host (http or https), or allow-listed."""
    return origin in allowed or origin in (f"http://{request.host}", f"https://{request.host}")


def over_tls(request: web.Request, settings: Settings) -> bool:
    if settings.web_secure_cookies or request.secure:
        return True
    if request.remote in settings.web_trusted_proxies:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False


def request_guard(settings: Settings, cookie: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    allowed = frozenset(settings.web_allowed_origins)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in SAFE_METHODS and request.path.startswith("/api/"):
            origin = request.headers.get("Origin")
            if origin is not None:
                if not origin_allowed(request, origin, allowed):
                    return _refuse(403, "bad_origin", f"origin {origin[:100]!r} is not allowed")
            elif request.headers.get("Sec-Fetch-Site", "same-origin") not in (
                "same-origin",
                "none",
            ):
                return _refuse(403, "bad_origin", "cross-site requests are not allowed")
            if request.content_type != "application/json":
                return _refuse(
                    415,
                    "unsupported_media_type",
                    "send a JSON body (Content-Type: application/json)",
                )
        response = await handler(request)
        if cookie in response.cookies and over_tls(request, settings):
            response.cookies[cookie]["secure"] = True
        return response

    return guard
