"""The web app on loopback with the real core and database and a stub AMI.

For the fuzz tests: one user per role (agents and the supervisor from the
demo, plus a QA user and an admin); the demo's supervisor has a password of
its own, the others share one. The login limits are raised so that fuzzed
logins (many wrong passwords from one address) do not lock the test's own
users out: the guard itself is tested in test_login_guard.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
from cti.demo import DemoSecrets, seed_demo
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub

PASSWORD = "correct horse"
SUPERVISOR_PASSWORD = "battery staple"
#: a user of each role
USERS = {"agent": "1001", "qa": "qa", "supervisor": "supervisor", "admin": "admin"}
#: a fuzzer's run sends far more failed logins than a person would
FUZZ_LOGIN_LIMIT = 1_000_000


def password_of(role: str) -> str:
    return SUPERVISOR_PASSWORD if role == "supervisor" else PASSWORD


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
        body = {"username": USERS[role], "password": password_of(role)}
        async with self.client.post("/api/login", json=body) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])


@contextlib.asynccontextmanager
async def running_desk(tmp_path: Path) -> AsyncIterator[RunningDesk]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        session_ttl_s=3600,
        recordings_dir=tmp_path / "recordings",
        login_failures_per_user=FUZZ_LOGIN_LIMIT,
        login_failures_per_address=FUZZ_LOGIN_LIMIT,
    )
    engine = make_engine(settings.effective_database_url)
    try:
        async with _serving(settings, engine) as desk:
            yield desk
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _serving(settings: Settings, engine: Any) -> AsyncIterator[RunningDesk]:
    await create_schema(engine)
    repository = Repository(engine)
    demo = dataclasses.replace(
        DemoSecrets.generate(PASSWORD), supervisor_password=SUPERVISOR_PASSWORD
    )
    await seed_demo(repository, demo)
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
