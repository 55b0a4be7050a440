"""Passwords (scrypt, from the standard library) and login sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ROLES = ("agent", "qa", "supervisor", "admin")
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_N}${_R}${_P}${salt_b64}${digest_b64}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    username: str
    role: str
    expires_at: float


class TooManySessions(RuntimeError):
    """The user already holds as many live sessions as allowed."""


class SessionStore:
    """In-memory sessions with an absolute lifetime, at most ``per_user`` live per user."""

    def __init__(self, ttl_s: float, per_user: int = 8) -> None:
        self.ttl_s = ttl_s
        self.per_user = per_user
        self._sessions: dict[str, Session] = {}

    def open(self, username: str, role: str, now: float) -> Session:
        for token in [t for t, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[token]
        live = sum(1 for s in self._sessions.values() if s.username == username)
        if live >= self.per_user:
            raise TooManySessions(
                f"{username} already has {live} sessions open (at most {self.per_user}): "
                "log out of one first"
            )
        session = Session(secrets.token_urlsafe(32), username, role, now + self.ttl_s)
        self._sessions[session.token] = session
        return session

    def get(self, token: str, now: float) -> Session | None:
        session = self._sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= now:
            del self._sessions[token]
            return None
        return session

    def close(self, token: str) -> None:
        self._sessions.pop(token, None)
