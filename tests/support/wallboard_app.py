"""A hotline web app on the real core and database (SQLite) with a stub AMI,
for the wallboard's API and browser tests: the service runs without following
AMI, calls are played into the core as domain events, the clock is the test's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import make_engine
from cti.domain import events as ev
from cti.service import Hotline
from cti.web.hub import Hub
from tests.support.stub_service import T0, Client, StubAmi, login_token, seeded, serving

__all__ = ["T0", "Board", "wallboard_app"]


@dataclass
class Board:
    hotline: Hotline
    client: Client
    now: list[float]

    @property
    def url(self) -> str:
        return str(self.client.make_url("/"))

    async def login(self, user: str) -> str:
        return await login_token(self.client, user)

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
        repository = await seeded(engine)
        now = [start]
        hotline = Hotline(settings, repository, StubAmi(), Hub(), clock=lambda: now[0])  # type: ignore[arg-type]
        async with serving(hotline, SessionStore(3600)) as client:
            yield Board(hotline, client, now)
    finally:
        await engine.dispose()
