"""A whole hotline process (AMI core, FastAGI IVR, web) against the test Asterisk."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DemoSecrets, seed_demo
from cti.server import Running, running_hotline
from tests.support.pbx_fixture import Pbx, clear_queue, free_tcp_port


@pytest.fixture(scope="session")
def demo_password() -> str:
    return secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def demo_secrets(demo_password: str) -> DemoSecrets:
    """The seeded demo's secrets: agents' and supervisor's passwords, customers' PINs."""
    return DemoSecrets.generate(demo_password)


@pytest.fixture
async def hotline_settings(pbx: Pbx, demo_secrets: DemoSecrets, tmp_path: Path) -> Settings:
    """Settings of a CTI process on the test Asterisk, with a seeded database.

    The session's Asterisk is shared: queue members an earlier test's CTI left
    there are removed first (a CTI that starts takes them as logged-in agents).
    """
    async with await pbx.ami(events="off") as ami:
        for queue in ("general", "billing", "technical", "account"):
            await clear_queue(ami, queue)
    settings: Settings = pbx.settings.model_copy(
        update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
            "web_port": free_tcp_port(),
            "ami_ping_interval_s": 1.0,
            "ami_ping_timeout_s": 2.0,
            "ami_reconnect_max_s": 1.0,
        }
    )
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    await seed_demo(Repository(engine), demo_secrets)
    await engine.dispose()
    return settings


@pytest.fixture
async def hotline(hotline_settings: Settings) -> AsyncIterator[Running]:
    async with running_hotline(hotline_settings) as running:
        yield running
