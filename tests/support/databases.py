"""Both database backends for the storage tests: SQLite files and a real PostgreSQL.

Fixtures (enabled from ``tests/conftest.py``):

* ``postgres_server`` (session): a throw-away PostgreSQL cluster made with
  Debian's ``initdb`` in a temporary directory, listening on a free loopback
  port and a unix socket in that directory, stopped and deleted at the end.
  It needs no system service. The server refuses to run as root, so under
  root it runs as the ``postgres`` user the Debian package creates. If it
  cannot be started the tests using it FAIL (never skip).
* ``db_backend``: ``"sqlite"`` or ``"postgresql"``; a test asking for a
  database runs once on each.
* ``new_database_url``: makes a new empty database on the test's backend and
  returns its SQLAlchemy URL (call it again for more databases).
* ``db_url``: one new empty database on the test's backend.
* ``db_engine``: an engine on ``db_url`` with the schema made, disposed after
  the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.db.repository import create_schema, make_engine
from tests.support.pg_cluster import PostgresServer, start_postgres, stop_postgres

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def new_database_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    made: list[str] = []
    server: PostgresServer | None = (
        request.getfixturevalue("postgres_server") if db_backend == "postgresql" else None
    )

    def new() -> str:
        if server is None:
            url = f"sqlite+aiosqlite:///{tmp_path / f'hotline{len(made)}.db'}"
        else:
            url = server.create_database()
        made.append(url)
        return url

    yield new
    if server is not None:
        for url in made:
            server.drop_database(url)


@pytest.fixture
def db_url(new_database_url: Callable[[], str]) -> str:
    return new_database_url()


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await create_schema(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
