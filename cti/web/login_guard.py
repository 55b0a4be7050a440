"""Password checks for the login route: off the event loop, bounded, throttled.

* scrypt runs in worker threads (at most ``max_hashing`` at once; beyond
  ``max_waiting`` queued checks the login answers 503 ``busy``), so a flood of
  logins never delays AMI events, screen-pops or agents' commands.
* An unknown user costs the same scrypt as a known one (a dummy hash is
  checked), so the answer time does not tell which usernames exist.
* Failed logins are counted per username and per source address in a moving
  window (the ``limits`` library); past the limit the login answers 429
  ``too_many_attempts`` with ``Retry-After`` without checking anything. A
  successful login clears its username's count.

Counts are kept in memory: a restart forgets them (the window is short).
"""

from __future__ import annotations

import asyncio
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

__all__ = ["LOGIN_GUARD", "LoginGuard", "LoginRefused", "Users"]

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
        self._hashing = asyncio.Semaphore(limits.max_hashing)
        self._waiting = 0
        self._dummy: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginGuard:
        return cls(
            LoginLimits(
                failures_per_user=settings.login_failures_per_user,
                failures_per_address=settings.login_failures_per_address,
                window_s=settings.login_window_s,
                max_hashing=settings.login_max_hashing,
                max_waiting=settings.login_max_waiting,
            )
        )

    async def authenticate(
        self, users: Users, username: str, password: str, address: str | None
    ) -> User | None:
        """The user when the password is right; None when not; raises LoginRefused."""
        user_key = ("user", username[:MAX_USERNAME])
        address_key = ("address", address or "unknown")
        self._refuse_if_throttled(user_key, address_key)
        user = await users.user(username) if len(username) <= MAX_USERNAME else None
        stored = user.password_hash if user is not None else await self._dummy_hash()
        ok = await self._verify(password, stored) and user is not None
        if ok:
            self._limiter.clear(self._per_user, *user_key)
            return user
        self._limiter.hit(self._per_user, *user_key)
        self._limiter.hit(self._per_address, *address_key)
        return None

    def _refuse_if_throttled(self, user_key: tuple[str, str], address_key: tuple[str, str]) -> None:
        for item, key in ((self._per_user, user_key), (self._per_address, address_key)):
            if not self._limiter.test(item, *key):
                reset_at, _ = self._limiter.get_window_stats(item, *key)
                raise LoginRefused(
                    429,
                    "too_many_attempts",
                    "too many failed logins: try again later",
                    reset_at - time.time(),
                )

    async def _verify(self, password: str, stored: str) -> bool:
        if self._waiting >= self.limits.max_waiting:
            raise LoginRefused(503, "busy", "too many logins at once: try again", 1)
        self._waiting += 1
        try:
            async with self._hashing:
                return await asyncio.to_thread(verify_password, password, stored)
        finally:
            self._waiting -= 1

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))
        return self._dummy


LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)
