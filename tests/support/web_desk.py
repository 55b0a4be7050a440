"""A running desk (real core and database, stub AMI) behind the aiohttp test server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.config import Settings
from cti.db.repository import make_engine
from cti.demo import DemoSecrets
from cti.service import Hotline
from cti.web.hub import Hub, HubLimits
from tests.support.stub_service import PASSWORD, Client, StubAmi, seeded, serving

__all__ = ["PASSWORD", "Client", "RunningDesk", "running_desk"]


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
    try:
        repository = await seeded(engine, DemoSecrets.generate(PASSWORD))
        hub = Hub(HubLimits.from_settings(settings))
        hotline = Hotline(settings, repository, StubAmi(), hub)  # type: ignore[arg-type]
        async with serving(hotline) as client:
            yield RunningDesk(client, hotline, hub)
    finally:
        await engine.dispose()
