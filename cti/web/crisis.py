"""The crisis switch: ``GET /api/crisis``, ``POST /api/crisis`` (supervisors and admins).

A request names a profile declared in the settings (``crisis_profiles``),
never a file; the switch itself is :mod:`cti.crisis.switch`.
"""

from __future__ import annotations

import json

from aiohttp import web

from cti.crisis.profiles import CrisisRefused
from cti.web.app import SESSION, SUPERVISION, _json_body, error, require


def _refused(exc: CrisisRefused) -> web.HTTPException:
    if not exc.problems:
        return error(exc.status, exc.code, exc.message)
    body = {"error": exc.code, "message": exc.message, "problems": exc.problems}
    return web.HTTPConflict(text=json.dumps(body), content_type="application/json")


@require("supervisor", "admin")
async def crisis_state(request: web.Request) -> web.Response:
    """The state (on or off, which profile, since when, by whom) and the profiles."""
    switch = request.app[SUPERVISION].crisis
    return web.json_response({**switch.state_json(), "profiles": switch.profiles_json()})


@require("supervisor", "admin")
async def crisis_switch(request: web.Request) -> web.Response:
    """Body ``{"profile": name}`` turns a profile on; ``{"profile": null}`` turns it off."""
    body = await _json_body(request)
    if set(body) != {"profile"}:
        raise error(400, "bad_request", 'send exactly {"profile": name or null}')
    session = request[SESSION]
    switch = request.app[SUPERVISION].crisis
    try:
        if body["profile"] is None:
            state = await switch.turn_off(session.username, session.role)
        else:
            state = await switch.turn_on(session.username, session.role, body["profile"])
    except CrisisRefused as exc:
        raise _refused(exc) from exc
    return web.json_response(state)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/crisis", crisis_state)
    app.router.add_post("/api/crisis", crisis_switch)
