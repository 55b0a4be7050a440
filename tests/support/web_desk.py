"""A running desk (real core and database, stub AMI) behind the aiohttp test server."""

from __future__ import annotations

import asyncio
import contextlib
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
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub, HubLimits

PASSWORD = "correct horse"
Client = TestClient[web.Request, web.Application]


class StubAmi:
    """Answers every action with Success and records it."""

    generation = 1

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []

    async def action(self, fields: dict[str, Any], *, answer_within: float | None = None) -> Any:
        self.actions.append({k: str(v) for k, v in fields.items()})
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


@dataclass
class RunningDesk:
    client: Client
    hotline: Hotline
    hub: Hub

    async def login(self, user: str = "1001", **headers: str) -> tuple[int, dict[str, Any]]:
        async with self.client.post(
            "/api/login", json={"username": user, "password": PASSWORD}, headers=headers
        ) as r:
            return r.status, await r.json()


@contextlib.asynccontextmanager
async def running_desk(tmp_path: Path, **overrides: Any) -> AsyncIterator[RunningDesk]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        recordings_dir=tmp_path / "recordings",
        **overrides,
    )
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    repository = Repository(engine)
    await seed_demo(repository, DemoSecrets.generate(PASSWORD))
    hub = Hub(HubLimits.from_settings(settings))
    hotline = Hotline(settings, repository, StubAmi(), hub)  # type: ignore[arg-type]
    await hotline.load_agents()
    service = asyncio.create_task(hotline.run(follow_ami=False))
    await hotline.started.wait()
    sessions = SessionStore(settings.session_ttl_s, settings.web_sessions_per_user)
    client = TestClient(
        TestServer(build_app(hotline.desk, sessions, hotline.supervision, hotline.qa))
    )
    await client.start_server()
    try:
        yield RunningDesk(client, hotline, hub)
    finally:
        await client.close()
        hotline.stop()
        await service
        await engine.dispose()
