"""A hotline web app on the real core and database (SQLite) with a stub AMI,
for the wallboard's API and browser tests: the service runs without following
AMI, calls are played into the core as domain events, the clock is the test's."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DemoSecrets, seed_demo
from cti.domain import events as ev
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub

PASSWORD = "correct horse"
SUPERVISOR_PASSWORD = "battery staple"  # the demo's supervisor has a password of its own
T0 = 1_800_000_000.0


class StubAmi:
    generation = 1

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        # what the operations metrics read of the AMI client: never connected
        self.logged_in = asyncio.Event()
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    async def action(self, fields: dict[str, Any], **_: Any) -> Any:
        self.actions.append({k: str(v) for k, v in fields.items()})
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


@dataclass
class Board:
    hotline: Hotline
    client: TestClient[web.Request, web.Application]
    now: list[float]

    @property
    def url(self) -> str:
        return str(self.client.make_url("/"))

    async def login(self, user: str) -> str:
        async with self.client.post(
            "/api/login",
            json={
                "username": user,
                "password": SUPERVISOR_PASSWORD if user == "supervisor" else PASSWORD,
            },
        ) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])

    async def get(self, path: str, token: str | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.client.get(path, headers=headers) as r:
            body = await r.text()
            if r.content_type == "application/json":
                return r.status, json.loads(body)
            return r.status, body

    async def ready(self, agent: str) -> None:
        token = await self.login(agent)
        async with self.client.post(
            "/api/agent/state",
            json={"state": "ready"},
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 200, await r.text()

    def play(self, *events: ev.DomainEvent) -> None:
        for event in events:
            self.hotline.apply(event)


@contextlib.asynccontextmanager
async def wallboard_app(
    tmp_path: Path, rules: str | None = None, start: float = T0, **settings_kw: Any
) -> AsyncIterator[Board]:
    wallboard_file = None
    if rules is not None:
        wallboard_file = tmp_path / "wallboard.yaml"
        wallboard_file.write_text(rules)
    # database_url in settings_kw: another database (the tests' PostgreSQL)
    settings_kw.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    settings = Settings(
        recordings_dir=tmp_path / "recordings",
        wallboard_file=wallboard_file,
        **settings_kw,
    )
    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        repository = Repository(engine)
        demo = dataclasses.replace(
            DemoSecrets.generate(PASSWORD), supervisor_password=SUPERVISOR_PASSWORD
        )
        await seed_demo(repository, demo)
        now = [start]
        hotline = Hotline(settings, repository, StubAmi(), Hub(), clock=lambda: now[0])  # type: ignore[arg-type]
        await hotline.load_agents()
        service = asyncio.create_task(hotline.run(follow_ami=False), name="hotline")
        started = asyncio.create_task(hotline.started.wait())
        await asyncio.wait({service, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():  # the service failed (its error) or hung while starting
            started.cancel()
            if not service.done():
                service.cancel()
            await service
        client = TestClient(
            TestServer(build_app(hotline.desk, SessionStore(3600), hotline.supervision, hotline.qa))
        )
        await client.start_server()
        try:
            yield Board(hotline, client, now)
        finally:
            await client.close()
            hotline.stop()
            await service
    finally:
        await engine.dispose()
