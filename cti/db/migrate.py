"""Schema migrations: bring any hotline database to the current schema.

The schema is owned by the Alembic revisions in ``cti/db/migrations/versions``.
``upgrade_schema`` handles three kinds of database:

* new (no tables): every revision is run, the same path on SQLite and PostgreSQL;
* made by the first release's ``create_all`` (its tables, no
  ``alembic_version``): stamped with the baseline revision, then upgraded;
* already under Alembic: upgraded to head (nothing to do when at head).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE_REVISION = "0001"
# tables of the baseline: a database holding them but no alembic_version was
# made by the first release's create_all
BASELINE_TABLES = frozenset({"users", "customers", "cdr"})

# Alembic keeps the running migration in module globals (``alembic.op``,
# ``alembic.context``), so two migrations must never interleave: not in two
# tasks of one event loop (``run_sync`` yields to the loop at every statement
# on an async driver), hence a lock per loop, and not in two threads, hence
# the thread lock taken around the synchronous part.
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
_thread_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, without an ini file; ``connection`` is used by env.py."""
    config = Config()
    # ConfigParser interpolates '%'
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _unquoted(default: str | None) -> str | None:
    if default is None:
        return None
    default = default.strip()
    while default.startswith("(") and default.endswith(")"):
        default = default[1:-1].strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        default = default[1:-1].replace("''", "'")
    return default


def compare_server_default(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Autogenerate's server-default check, but an empty string literal (``''``
    in the database, ``""`` in the model) is not a difference; anything else is
    left to Alembic (None)."""
    if (
        inspected_default is not None
        and rendered_metadata_default is not None
        and _unquoted(inspected_default) == _unquoted(rendered_metadata_default)
    ):
        return False
    return None


#: Made by migrations in SQL the models cannot describe (the transcripts'
#: full-text index: an FTS5 table and its shadow tables on SQLite, a generated
#: tsvector column and its GIN index on PostgreSQL): left out when comparing
#: the database with the models.
SQL_ONLY_PREFIXES = ("transcripts_fts", "ix_transcripts_search", "search_vector")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's filter: everything but the objects of ``SQL_ONLY_PREFIXES``."""
    return not (name or "").startswith(SQL_ONLY_PREFIXES)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> None:
    with _thread_lock:
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and tables & BASELINE_TABLES:
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Bring the database behind ``engine`` to the newest revision."""
    lock = _loop_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: not under Alembic yet)."""
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision)
