"""State-changing requests: same origin and JSON only; the session cookie Secure behind TLS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import seed_demo
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub
from tests.unit.test_web_desktop import PASSWORD, StubAmi

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[object]:
    started: list[tuple[Client, Hotline, asyncio.Task[None]]] = []
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    await create_schema(engine)
    repository = Repository(engine)
    await seed_demo(repository, PASSWORD)

    async def make(**overrides: object) -> Client:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
            recordings_dir=tmp_path / "recordings",
            **overrides,  # type: ignore[arg-type]
        )
        hotline = Hotline(settings, repository, StubAmi(), Hub())  # type: ignore[arg-type]
        await hotline.load_agents()
        task = asyncio.create_task(hotline.run(follow_ami=False))
        await hotline.started.wait()
        client = TestClient(TestServer(build_app(hotline.desk, SessionStore(3600))))
        await client.start_server()
        started.append((client, hotline, task))
        return client

    yield make
    for client, hotline, task in started:
        await client.close()
        hotline.stop()
        await task
    await engine.dispose()


async def _login(client: Client, **headers: str) -> tuple[str, str]:
    async with client.post(
        "/api/login", json={"username": "1001", "password": PASSWORD}, headers=headers
    ) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"]), r.headers.getall("Set-Cookie")[0]


async def test_logout_by_a_plain_form_post_is_refused_and_the_session_lives_on(
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    client = await make_client()
    token, _ = await _login(client)
    async with client.post(
        "/api/logout",
        data={"x": "1"},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 415
        assert (await r.json())["error"] == "unsupported_media_type"
    async with client.get("/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200


@pytest.mark.parametrize("path", ["/api/logout", "/api/agent/state", "/api/login"])
async def test_a_post_from_another_origin_is_refused(make_client, path: str) -> None:  # type: ignore[no-untyped-def]
    client = await make_client()
    token, _ = await _login(client)
    async with client.post(
        path,
        json={"state": "ready", "username": "1001", "password": PASSWORD},
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
    ) as r:
        assert r.status == 403
        assert (await r.json())["error"] == "bad_origin"
    async with client.post(
        path,
        json={"state": "ready"},
        headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "cross-site"},
    ) as r:
        assert r.status == 403
    async with client.get("/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200


async def test_a_post_from_the_same_or_an_allowed_origin_is_accepted(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(web_allowed_origins=["https://desk.example"])
    token, _ = await _login(client)
    same = f"http://{client.host}:{client.port}"
    for origin in (same, "https://desk.example"):
        async with client.post(
            "/api/agent/state",
            json={"state": "ready"},
            headers={"Authorization": f"Bearer {token}", "Origin": origin},
        ) as r:
            assert r.status == 200, await r.text()


async def test_session_cookie_is_not_secure_over_plain_http_by_default(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client()
    _, cookie = await _login(client, **{"X-Forwarded-Proto": "https"})
    assert "secure" not in cookie.lower()  # an untrusted peer's header is ignored


async def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(web_trusted_proxies=["127.0.0.1", "::1"])
    _, cookie = await _login(client, **{"X-Forwarded-Proto": "https"})
    assert "Secure" in cookie
    _, plain = await _login(client)
    assert "secure" not in plain.lower()


async def test_session_cookie_is_secure_when_the_setting_says_so(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(web_secure_cookies=True)
    _, cookie = await _login(client)
    assert "Secure" in cookie and "HttpOnly" in cookie
