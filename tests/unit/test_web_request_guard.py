"""State-changing requests: same origin and JSON only; the session cookie Secure behind TLS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.web_desk import PASSWORD, RunningDesk, running_desk


async def _login(desk: RunningDesk, **headers: str) -> tuple[str, str]:
    async with desk.client.post(
        "/api/login", json={"username": "1001", "password": PASSWORD}, headers=headers
    ) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"]), r.headers.getall("Set-Cookie")[0]


async def test_logout_by_a_plain_form_post_is_refused_and_the_session_lives_on(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        token, _ = await _login(desk)
        bearer = {"Authorization": f"Bearer {token}"}
        async with desk.client.post("/api/logout", data={"x": "1"}, headers=bearer) as r:
            assert r.status == 415
            assert (await r.json())["error"] == "unsupported_media_type"
        async with desk.client.get("/api/me", headers=bearer) as r:
            assert r.status == 200


@pytest.mark.parametrize("path", ["/api/logout", "/api/agent/state", "/api/login"])
async def test_a_post_from_another_origin_is_refused(tmp_path: Path, path: str) -> None:
    async with running_desk(tmp_path) as desk:
        token, _ = await _login(desk)
        body = {"state": "ready", "username": "1001", "password": PASSWORD}
        for header in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            headers = {"Authorization": f"Bearer {token}", **header}
            async with desk.client.post(path, json=body, headers=headers) as r:
                assert r.status == 403
                assert (await r.json())["error"] == "bad_origin"
        async with desk.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200


async def test_a_post_from_the_same_or_an_allowed_origin_is_accepted(tmp_path: Path) -> None:
    async with running_desk(tmp_path, web_allowed_origins=["https://desk.example"]) as desk:
        token, _ = await _login(desk)
        same = f"http://{desk.client.host}:{desk.client.port}"
        for origin in (same, "https://desk.example"):
            async with desk.client.post(
                "/api/agent/state",
                json={"state": "ready"},
                headers={"Authorization": f"Bearer {token}", "Origin": origin},
            ) as r:
                assert r.status == 200, await r.text()


async def test_session_cookie_is_not_secure_over_plain_http_by_default(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        _, cookie = await _login(desk, **{"X-Forwarded-Proto": "https"})
        assert "secure" not in cookie.lower()  # an untrusted peer's header is ignored


async def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    async with running_desk(tmp_path, web_trusted_proxies=["127.0.0.1", "::1"]) as desk:
        _, cookie = await _login(desk, **{"X-Forwarded-Proto": "https"})
        assert "Secure" in cookie
        _, plain = await _login(desk)
        assert "secure" not in plain.lower()


async def test_session_cookie_is_secure_when_the_setting_says_so(tmp_path: Path) -> None:
    async with running_desk(tmp_path, web_secure_cookies=True) as desk:
        _, cookie = await _login(desk)
        assert "Secure" in cookie and "HttpOnly" in cookie
