"""The FastAGI guard and the IVR's PIN lockout store, built from the settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.config import Settings
from cti.db.pin_attempts import PinAttemptStore
from ivr.guard import AgiGuard
from ivr.lockout import LockoutPolicy

__all__ = ["agi_guard", "pin_attempt_store"]


def agi_guard(settings: Settings) -> AgiGuard:
    """Secret (``agi_secret`` or derived from the AMI secret), peers and session cap."""
    return AgiGuard.build(
        settings.effective_agi_secret, settings.agi_allowed_peers, settings.agi_max_sessions
    )


def pin_attempt_store(settings: Settings, engine: AsyncEngine) -> PinAttemptStore:
    return PinAttemptStore(engine, LockoutPolicy(settings.pin_max_failures, settings.pin_lockout_s))
