"""Logins: the password check never blocks the event loop, unknown users cost the
same, failed logins are throttled per user and per address with a clear 429."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.auth import hash_password, verify_password
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DemoSecrets, seed_demo
from cti.web.login_guard import LoginGuard, LoginLimits, LoginRefused
from tests.support.stub_service import PASSWORD
from tests.support.waiting import wait_until
from tests.unit.test_web_desktop import Desk, desk  # noqa: F401  (fixture)


async def post_login(d: Desk, user: str, password: str) -> tuple[int, dict[str, object], str]:
    async with d.client.post("/api/login", json={"username": user, "password": password}) as r:
        return r.status, await r.json(), r.headers.get("Retry-After", "")


async def test_a_burst_of_logins_does_not_hold_up_the_event_loop(desk: Desk) -> None:  # noqa: F811
    stored = hash_password("x")
    started = time.perf_counter()
    verify_password("y", stored)
    one_check = time.perf_counter() - started
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.002)
            lags.append(time.perf_counter() - before - 0.002)

    tick = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(post_login(desk, f"nobody{i}", "wrong") for i in range(16)),
        *(post_login(desk, "1001", "wrong") for _ in range(4)),
    )
    done.set()
    await tick
    assert [status for status, _, _ in results] == [401] * 20
    # Checked on the loop, the 20 checks run back to back and stall it for
    # about 20 x one_check; off the loop a busy machine may delay a tick by
    # about one check now and then.
    assert max(lags) < 4 * one_check, (sorted(lags)[-3:], one_check)


async def test_failed_logins_per_user_end_in_429_even_for_the_right_password(
    desk: Desk,  # noqa: F811
) -> None:
    for _ in range(10):
        status, body, _ = await post_login(desk, "1002", "wrong")
        assert status == 401 and body["error"] == "bad_credentials"
    status, body, retry = await post_login(desk, "1002", PASSWORD)
    assert status == 429 and body["error"] == "too_many_attempts"
    assert int(retry) > 0 and "try again later" in str(body["message"])
    # another user is not locked by it
    status, _, _ = await post_login(desk, "1003", PASSWORD)
    assert status == 200


async def test_a_right_password_clears_the_users_count(desk: Desk) -> None:  # noqa: F811
    for _ in range(9):
        assert (await post_login(desk, "1004", "wrong"))[0] == 401
    assert (await post_login(desk, "1004", PASSWORD))[0] == 200
    for _ in range(9):
        assert (await post_login(desk, "1004", "wrong"))[0] == 401


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[Repository]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    await create_schema(engine)
    await seed_demo(Repository(engine), DemoSecrets.generate(PASSWORD))
    try:
        yield Repository(engine)
    finally:
        await engine.dispose()


async def test_one_address_trying_many_users_is_throttled(repository: Repository) -> None:
    guard = LoginGuard(LoginLimits(failures_per_user=10, failures_per_address=5))
    for i in range(5):
        assert await guard.authenticate(repository, f"user{i}", "x", "192.0.2.7") is None
    with pytest.raises(LoginRefused) as refused:
        await guard.authenticate(repository, "1001", PASSWORD, "192.0.2.7")
    assert refused.value.status == 429
    # another address still logs in
    assert await guard.authenticate(repository, "1001", PASSWORD, "192.0.2.8") is not None


async def test_an_unknown_user_costs_a_password_check_too(repository: Repository) -> None:
    guard = LoginGuard(LoginLimits(failures_per_user=100, failures_per_address=100))
    await guard.authenticate(repository, "warm-up", "x", "a")  # dummy hash made once

    async def timed(user: str) -> float:
        started = time.perf_counter()
        await guard.authenticate(repository, user, "wrong", "b")
        return time.perf_counter() - started

    known = statistics.median([await timed("1001") for _ in range(5)])
    unknown = statistics.median([await timed(f"ghost{i}") for i in range(5)])
    assert unknown > known / 2, (unknown, known)


async def test_too_many_waiting_checks_answer_busy(repository: Repository) -> None:
    guard = LoginGuard(LoginLimits(failures_per_address=100, max_hashing=1, max_waiting=2))
    outcomes = await asyncio.gather(
        *(guard.authenticate(repository, f"u{i}", "x", "c") for i in range(6)),
        return_exceptions=True,
    )
    busy = [o for o in outcomes if isinstance(o, LoginRefused)]
    assert busy and all(o.status == 503 for o in busy)
    assert any(o is None for o in outcomes)


async def test_a_user_throttled_from_some_addresses_still_logs_in_from_a_clean_one(
    repository: Repository,
) -> None:
    guard = LoginGuard(LoginLimits(failures_per_user=3, failures_per_address=100))
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert await guard.authenticate(repository, "1002", "wrong", address) is None
    # the user is past its limit: the addresses that failed are refused...
    with pytest.raises(LoginRefused) as refused:
        await guard.authenticate(repository, "1002", PASSWORD, "198.51.100.1")
    assert refused.value.status == 429
    # ...a desk that did nothing wrong logs in
    assert await guard.authenticate(repository, "1002", PASSWORD, "192.0.2.50") is not None
    # and another address gets one guess at the (again) throttled user, not more
    for address in ("198.51.100.4", "198.51.100.5", "198.51.100.6"):
        assert await guard.authenticate(repository, "1002", "wrong", address) is None
    assert await guard.authenticate(repository, "1002", "wrong", "203.0.113.9") is None
    with pytest.raises(LoginRefused):
        await guard.authenticate(repository, "1002", "wrong", "203.0.113.9")


async def test_a_clean_address_is_checked_before_a_flooding_one_fills_the_queue(
    repository: Repository,
) -> None:
    guard = LoginGuard(LoginLimits(failures_per_address=100, max_hashing=1, max_waiting=3))
    assert await guard.authenticate(repository, "ghost", "x", "198.51.100.66") is None
    flood = [
        asyncio.create_task(guard.authenticate(repository, f"ghost{i}", "x", "198.51.100.66"))
        for i in range(8)
    ]
    await wait_until(lambda: guard.checks.waiting == 3, within=10, what="a full waiting list")
    user = await guard.authenticate(repository, "1003", PASSWORD, "192.0.2.51")
    assert user is not None and user.username == "1003"
    # checked right after the flood's check under way, before those waiting
    checked = [t for t in flood if t.done() and t.exception() is None]
    assert len(checked) <= 1, checked
    outcomes = await asyncio.gather(*flood, return_exceptions=True)
    busy = [o for o in outcomes if isinstance(o, LoginRefused)]
    assert busy and all(o.status == 503 for o in busy)
