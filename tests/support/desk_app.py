"""The web app on loopback with the real core and database and a stub AMI.

For the fuzz tests: one user per role (agents and the supervisor from the
demo, plus a QA user and an admin); the demo's supervisor has a password of
its own, the others share one. The login limits are raised so that fuzzed
logins (many wrong passwords from one address) do not lock the test's own
users out: the guard itself is tested in test_login_guard.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.auth import hash_password
from cti.config import Settings
from cti.db.models import User
from cti.db.repository import make_engine
from cti.service import Hotline
from cti.web.hub import Hub
from tests.support import stub_service

#: a user of each role
USERS = {"agent": "1001", "qa": "qa", "supervisor": "supervisor", "admin": "admin"}
#: a fuzzer's run sends far more failed logins than a person would
FUZZ_LOGIN_LIMIT = 1_000_000


def password_of(role: str) -> str:
    return stub_service.password_for(USERS[role])


@dataclass
class RunningDesk:
    hotline: Hotline
    client: stub_service.Client

    @property
    def base_url(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    async def login(self, role: str) -> str:
        return await stub_service.login_token(self.client, USERS[role], password_of(role))


@contextlib.asynccontextmanager
async def running_desk(tmp_path: Path, **overrides: Any) -> AsyncIterator[RunningDesk]:
    """The desk on a SQLite file in ``tmp_path``; ``overrides``: more settings."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        session_ttl_s=3600,
        recordings_dir=tmp_path / "recordings",
        login_failures_per_user=FUZZ_LOGIN_LIMIT,
        login_failures_per_address=FUZZ_LOGIN_LIMIT,
        **overrides,
    )
    engine = make_engine(settings.effective_database_url)
    try:
        repository = await stub_service.seeded(engine)
        password_hash = hash_password(stub_service.PASSWORD)
        await repository.upsert_users(
            User(
                username=name, display_name=name, password_hash=password_hash, role=role, queues=""
            )
            for role, name in USERS.items()
            if role in ("qa", "admin")
        )
        now = [stub_service.T0]
        ami = stub_service.StubAmi()
        hotline = Hotline(settings, repository, ami, Hub(), clock=lambda: now[0])  # type: ignore[arg-type]
        async with stub_service.serving(hotline) as client:
            yield RunningDesk(hotline, client)
    finally:
        await engine.dispose()
