"""Password checks for the login route: off the event loop, bounded, throttled.

* scrypt runs in a pool of its own of ``max_hashing`` low-priority processes
  (cti/web/password_checks.py); beyond ``max_waiting`` queued checks the
  login answers 503 ``busy`` before it even looks the user up, so a flood of
  logins never delays AMI events, screen-pops or agents' commands. Queued
  checks are served by their address's recent failures and checks under
  way, fewest first: a login from an address that has not failed is checked
  next even during a flood.
* An unknown user costs the same scrypt as a known one (a dummy hash is
  checked), so the answer time does not tell which usernames exist.
* Failed logins are counted per username and per source address in a moving
  window (the ``limits`` library); past a limit the login answers 429
  ``too_many_attempts`` with ``Retry-After`` without checking anything. A
  username past its limit is refused only to addresses that have failed in
  the window themselves: a flood aimed at a user does not lock the user out
  from a desk that did nothing wrong, and each other address gets at most
  one guess at it. A successful login clears its username's count.

Counts are kept in memory: a restart forgets them (the window is short).
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from cti.auth import hash_password, verify_password
from cti.config import Settings
from cti.db.models import User
from cti.web.password_checks import ChecksBusy, PasswordChecks

__all__ = ["LOGIN_GUARD", "LoginGuard", "LoginRefused", "Users", "register_login_guard"]

#: Usernames longer than this are never looked up (they cannot exist).
MAX_USERNAME = 64


class Users(Protocol):
    """Where a login's user row is looked up (the repository, the desk facade)."""

    async def user(self, username: str) -> User | None: ...


class LoginRefused(web.HTTPException):
    """A JSON error with ``Retry-After``: 429 ``too_many_attempts`` or 503 ``busy``."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: float) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": code, "message": message}),
            content_type="application/json",
            headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
        )


@dataclass(frozen=True, slots=True)
class LoginLimits:
    failures_per_user: int = 10
    failures_per_address: int = 30
    window_s: int = 900
    max_hashing: int = 1
    max_waiting: int = 64
    hashing_nice: int = 19


class LoginGuard:
    def __init__(self, limits: LoginLimits) -> None:
        self.limits = limits
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_user: RateLimitItem = RateLimitItemPerSecond(
            limits.failures_per_user, limits.window_s
        )
        self._per_address: RateLimitItem = RateLimitItemPerSecond(
            limits.failures_per_address, limits.window_s
        )
        self._pending: collections.Counter[tuple[str, str]] = collections.Counter()
        self.checks = PasswordChecks(limits.max_hashing, limits.max_waiting, limits.hashing_nice)
        self._dummy: str | None = None
        self._dummy_made = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginGuard:
        return cls(
            LoginLimits(
                failures_per_user=settings.login_failures_per_user,
                failures_per_address=settings.login_failures_per_address,
                window_s=settings.login_window_s,
                max_hashing=settings.login_max_hashing,
                max_waiting=settings.login_max_waiting,
                hashing_nice=settings.login_hashing_nice,
            )
        )

    async def authenticate(
        self, users: Users, username: str, password: str, address: str | None
    ) -> User | None:
        """The user when the password is right; None when not; raises LoginRefused."""
        user_key = ("user", username[:MAX_USERNAME])
        address_key = ("address", address or "unknown")
        failures = self._failures(self._per_address, address_key)
        self._refuse_if_throttled(user_key, address_key, failures)
        # checks queue by their address's failures and checks under way, fewest first
        rank = failures + self._pending[address_key]
        if self.checks.would_refuse(rank):
            raise _busy()
        self._pending[address_key] += 1
        try:
            user = await users.user(username) if len(username) <= MAX_USERNAME else None
            stored = user.password_hash if user is not None else await self._dummy_hash()
            ok = await self.checks.run(rank, verify_password, password, stored)
        except ChecksBusy as exc:
            raise _busy() from exc
        finally:
            self._pending[address_key] -= 1
            if not self._pending[address_key]:
                del self._pending[address_key]
        ok = ok and user is not None
        if ok:
            self._limiter.clear(self._per_user, *user_key)
            return user
        self._limiter.hit(self._per_user, *user_key)
        self._limiter.hit(self._per_address, *address_key)
        return None

    def _failures(self, item: RateLimitItem, key: tuple[str, str]) -> int:
        """Failures counted for ``key`` in the window."""
        _, remaining = self._limiter.get_window_stats(item, *key)
        return item.amount - remaining

    def _refuse_if_throttled(
        self, user_key: tuple[str, str], address_key: tuple[str, str], address_failures: int
    ) -> None:
        checks = [(self._per_address, address_key)]
        if address_failures:  # a clean address may still try a throttled user
            checks.append((self._per_user, user_key))
        for item, key in checks:
            if not self._limiter.test(item, *key):
                reset_at, _ = self._limiter.get_window_stats(item, *key)
                raise LoginRefused(
                    429,
                    "too_many_attempts",
                    "too many failed logins: try again later",
                    reset_at - time.time(),
                )

    async def _dummy_hash(self) -> str:
        async with self._dummy_made:  # made once, by the first unknown user's login
            if self._dummy is None:
                self._dummy = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))
        return self._dummy


def _busy() -> LoginRefused:
    return LoginRefused(503, "busy", "too many logins at once: try again", 1)


LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)


def register_login_guard(app: web.Application, settings: Settings) -> None:
    """The app's login guard; its checking processes stop with the app."""
    guard = app[LOGIN_GUARD] = LoginGuard.from_settings(settings)

    async def close(_: web.Application) -> None:
        guard.checks.close()

    app.on_cleanup.append(close)
