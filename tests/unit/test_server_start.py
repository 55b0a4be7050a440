"""Starting a hotline process: AMI errors at start come out as themselves, not wrapped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from cti.ami.client import AmiAuthError, AmiError
from cti.config import Settings
from cti.server import running_hotline
from tests.support.fake_ami import FakeAmi
from tests.support.pbx_fixture import free_tcp_port


def settings(tmp_path: Path, ami_port: int, secret: str) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        recordings_dir=tmp_path / "recordings",
        ami_host="127.0.0.1",
        ami_port=ami_port,
        ami_user="cti",
        ami_secret=SecretStr(secret),
        agi_port=free_tcp_port(),
        web_port=free_tcp_port(),
        ami_reconnect_max_s=0.2,
    )


async def test_unreachable_ami_stops_the_start_with_an_ami_error(tmp_path: Path) -> None:
    with pytest.raises(AmiError, match="cannot reach AMI"):
        async with asyncio.timeout(20):
            async with running_hotline(
                settings(tmp_path, free_tcp_port(), "x"), first_connect_retries=1
            ):
                pytest.fail("started without AMI")


async def test_refused_ami_credentials_stop_the_start(tmp_path: Path) -> None:
    async with FakeAmi() as ami:
        with pytest.raises(AmiAuthError, match="refused"):
            async with asyncio.timeout(20):
                async with running_hotline(settings(tmp_path, ami.port, "wrong")):
                    pytest.fail("started with refused credentials")
