"""The service and its web app behind the aiohttp test server, on the real core and
database with an AMI that is never connected: what the web test apps share
(tests/support/desk_app.py, web_desk.py, wallboard_app.py and the unit tests'
own desks).

::

    repository = await seeded(engine)
    hotline = Hotline(settings, repository, StubAmi(), Hub())
    async with serving(hotline) as client:
        token = await login_token(client, "1001")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.ami.client import AmiError
from cti.auth import SessionStore
from cti.db.repository import Repository, create_schema
from cti.demo import DemoSecrets, seed_demo
from cti.service import Hotline
from cti.web.app import build_app

PASSWORD = "correct horse"
SUPERVISOR_PASSWORD = "battery staple"  # the demo's supervisor has a password of its own
#: the test clock's start
T0 = 1_800_000_000.0

Client = TestClient[web.Request, web.Application]


def demo_secrets() -> DemoSecrets:
    """The demo's users with PASSWORD, its supervisor with SUPERVISOR_PASSWORD."""
    return dataclasses.replace(
        DemoSecrets.generate(PASSWORD), supervisor_password=SUPERVISOR_PASSWORD
    )


def password_for(user: str) -> str:
    return SUPERVISOR_PASSWORD if user == "supervisor" else PASSWORD


async def seeded(engine: AsyncEngine, demo: DemoSecrets | None = None) -> Repository:
    """The schema and the demo's users and customers (``demo_secrets()`` by default)."""
    await create_schema(engine)
    repository = Repository(engine)
    await seed_demo(repository, demo or demo_secrets())
    return repository


class StubAmi:
    """Records actions and answers them with Success (or refuses them all with
    ``refuse``); never connected, as the operations metrics read it."""

    generation = 1

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        self.refuse: str | None = None
        self.logged_in = asyncio.Event()
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    async def action(self, fields: dict[str, Any], *, answer_within: float | None = None) -> Any:
        self.actions.append({k: str(v) for k, v in fields.items()})
        if self.refuse:
            raise AmiError(self.refuse)
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        self.actions.append({k: str(v) for k, v in fields.items()})
        return []

    def named(self, action: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action") == action]


@contextlib.asynccontextmanager
async def serving(hotline: Hotline, sessions: SessionStore | None = None) -> AsyncIterator[Client]:
    """``hotline`` running (following no AMI) and its web app behind the test
    server; both stopped on exit. ``sessions``: by default as the settings say."""
    settings = hotline.settings
    await hotline.load_agents()
    service = asyncio.create_task(hotline.run(follow_ami=False), name="hotline")
    started = asyncio.create_task(hotline.started.wait())
    await asyncio.wait({service, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():  # the service failed (its error) or hung while starting
        started.cancel()
        if not service.done():
            service.cancel()
        await service
    if sessions is None:
        sessions = SessionStore(settings.session_ttl_s, settings.web_sessions_per_user)
    app = build_app(hotline.desk, sessions, hotline.supervision, hotline.qa)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        hotline.stop()
        await service


async def login_token(client: Client, user: str, password: str | None = None) -> str:
    """A session token of ``user`` (its test password unless ``password`` is given)."""
    body = {"username": user, "password": password_for(user) if password is None else password}
    async with client.post("/api/login", json=body) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])
