"""The CDR writer says when the database fails, and when it works again."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from cti.db.cdr_store import DatabaseHealth, retry_transient


async def test_retries_mark_the_database_failing_until_a_try_succeeds() -> None:
    health = DatabaseHealth()
    tries = iter([OperationalError("INSERT", {}, Exception("database or disk is full"))] * 2)
    seen: list[float | None] = []

    async def action() -> str:
        for exc in tries:
            raise exc
        return "stored"

    async def no_wait(_: float) -> None:
        seen.append(health.failing_since)

    assert await retry_transient(action, "storing", sleep=no_wait, health=health) == "stored"
    assert health.failures == 2
    assert all(since is not None for since in seen) and len(seen) == 2
    assert health.failing_since is None
