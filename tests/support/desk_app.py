"""The web app on loopback with the real core and database and a stub AMI.

For the fuzz tests: one user per role (agents from the demo, plus a QA user
and an admin), all with the same password.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cti.auth import SessionStore, hash_password
from cti.config import Settings
from cti.db.models import User
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import seed_demo
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub

PASSWORD = "correct horse"
#: a user of each role
USERS = {"agent": "1001", "qa": "qa", "supervisor": "supervisor", "admin": "admin"}


class StubAmi:
    """Answers every AMI action with Success."""

    generation = 1

    def __init__(self) -> None:
        # what the operations metrics read of the AMI client: never connected
        self.logged_in = asyncio.Event()
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    async def action(self, fields: dict[str, Any], *, answer_within: float | None = None) -> Any:
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


@dataclass
class RunningDesk:
    hotline: Hotline
    client: TestClient[web.Request, web.Application]

    @property
    def base_url(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    async def login(self, role: str) -> str:
        body = {"username": USERS[role], "password": PASSWORD}
        async with self.client.post("/api/login", json=body) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])


@contextlib.asynccontextmanager
async def running_desk(tmp_path: Path) -> AsyncIterator[RunningDesk]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        session_ttl_s=3600,
        recordings_dir=tmp_path / "recordings",
    )
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    repository = Repository(engine)
    await seed_demo(repository, PASSWORD)
    password_hash = hash_password(PASSWORD)
    await repository.upsert_users(
        User(username=name, display_name=name, password_hash=password_hash, role=role, queues="")
        for role, name in USERS.items()
        if role in ("qa", "admin")
    )
    now = [1_800_000_000.0]
    hotline = Hotline(settings, repository, StubAmi(), Hub(), clock=lambda: now[0])  # type: ignore[arg-type]
    await hotline.load_agents()
    service = asyncio.create_task(hotline.run(follow_ami=False))
    await hotline.started.wait()
    app = build_app(
        hotline.desk, SessionStore(settings.session_ttl_s), hotline.supervision, hotline.qa
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield RunningDesk(hotline, client)
    finally:
        await client.close()
        hotline.stop()
        await service
        await engine.dispose()
