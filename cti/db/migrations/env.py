"""Alembic environment.

Two ways in:

* ``cti.db.migrate`` (``hotline serve``, ``hotline db upgrade``, the tests) hands
  over an open synchronous connection in ``config.attributes["connection"]``
  (an ``AsyncConnection.run_sync`` one), so the async engine is reused;
* the ``alembic`` command (``alembic revision --autogenerate`` while
  developing) gets no connection: the database URL comes from the hotline
  settings (``-x url=...`` wins) and an async engine is made here.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from cti.db.migrate import compare_server_default, include_name
from cti.db.models import Base

target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=compare_server_default,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from cti.config import load_settings

    return load_settings().effective_database_url


async def _run_with_own_engine() -> None:
    from cti.db.repository import make_engine

    engine = make_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def _run() -> None:
    if context.is_offline_mode():
        context.configure(
            url=_url(),
            target_metadata=target_metadata,
            literal_binds=True,
            render_as_batch=_url().startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_with_own_engine())
    else:
        _configure_and_run(connection)


_run()
