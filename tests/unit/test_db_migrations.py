"""Schema migrations (cti/db/migrations) on SQLite files and on PostgreSQL: new
databases, the first release's databases, and the migrations kept in step with
the models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.db.migrate import (
    BASELINE_REVISION,
    alembic_config,
    compare_server_default,
    head_revision,
    include_name,
    schema_revision,
)
from cti.db.models import Base, CallRecord
from cti.db.repository import Repository, create_schema, make_engine

# What the first release's Base.metadata.create_all left in a SQLite file
# (users, customers, cdr; no alembic_version).
FIRST_RELEASE_SQLITE = """
CREATE TABLE users (
    username VARCHAR(64) NOT NULL,
    display_name VARCHAR(128) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    role VARCHAR(16) NOT NULL,
    interface VARCHAR(128),
    queues VARCHAR(512) NOT NULL,
    wrap_up_s FLOAT NOT NULL,
    PRIMARY KEY (username)
);
CREATE TABLE customers (
    id INTEGER NOT NULL,
    phone VARCHAR(32) NOT NULL,
    name VARCHAR(128) NOT NULL,
    tier VARCHAR(16) NOT NULL,
    language VARCHAR(8) NOT NULL,
    account_number VARCHAR(32),
    pin_hash VARCHAR(256),
    notes TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_customers_account_number ON customers (account_number);
CREATE UNIQUE INDEX ix_customers_phone ON customers (phone);
CREATE TABLE cdr (
    call_id VARCHAR(64) NOT NULL,
    caller_number VARCHAR(64) NOT NULL,
    caller_name VARCHAR(128) NOT NULL,
    customer_id INTEGER,
    ivr_path VARCHAR(512) NOT NULL,
    queue VARCHAR(64),
    agent_id VARCHAR(64),
    entered_at DATETIME NOT NULL,
    queued_at DATETIME,
    answered_at DATETIME,
    ended_at DATETIME NOT NULL,
    wait_s FLOAT NOT NULL,
    talk_s FLOAT NOT NULL,
    disposition VARCHAR(32) NOT NULL,
    recording_path VARCHAR(512),
    agent_disposition VARCHAR(64),
    agent_notes TEXT NOT NULL,
    recovered BOOLEAN NOT NULL,
    verified BOOLEAN NOT NULL,
    PRIMARY KEY (call_id)
);
CREATE INDEX ix_cdr_entered_at ON cdr (entered_at);
CREATE INDEX ix_cdr_agent_id ON cdr (agent_id);
CREATE INDEX ix_cdr_caller_number ON cdr (caller_number);
CREATE INDEX ix_cdr_queue ON cdr (queue);
INSERT INTO users VALUES ('agent01', 'Alice', 'hash', 'agent', 'PJSIP/agent01', 'billing', 5.0);
INSERT INTO customers VALUES (1, '+15550100', 'Bob', 'gold', 'en', 'AC-1', NULL, 'vip');
INSERT INTO cdr VALUES ('1700000000.1', '+15550100', 'Bob', 1, 'open>menu=1', 'billing',
    'agent01', '2023-11-14 22:13:20.000000', '2023-11-14 22:13:25.000000',
    '2023-11-14 22:13:30.000000', '2023-11-14 22:15:00.000000', 10.0, 90.0, 'answered',
    NULL, 'resolved', 'called back', 0, 1);
"""

NEW_COLUMNS = {
    "users": {"skills"},
    "cdr": {"survey_score", "voicemail_path", "callback_outcome"},
}


def first_release_ddl(dialect: str) -> str:
    """What the first release's create_all left in a database of this dialect."""
    if dialect == "sqlite":
        return FIRST_RELEASE_SQLITE
    return (
        FIRST_RELEASE_SQLITE.replace("DATETIME", "TIMESTAMP WITH TIME ZONE")
        .replace("id INTEGER NOT NULL", "id SERIAL NOT NULL")
        .replace("FLOAT", "DOUBLE PRECISION")
        .replace(".000000'", ".000000+00'")
        .replace("'called back', 0, 1)", "'called back', false, true)")
    )


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _first_release_database(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for statement in first_release_ddl(engine.dialect.name).split(";"):
            if statement.strip():
                await conn.exec_driver_sql(statement)


def _columns(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    return {
        table: {
            column["name"]
            for column in inspector.get_columns(table)
            if include_name(column["name"], "column", {})
        }
        for table in inspector.get_table_names()
        if include_name(table, "table", {})  # not the SQL-only full-text index
    }


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": compare_server_default,
            "include_name": include_name,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _model_columns() -> dict[str, set[str]]:
    return {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}


async def test_new_database_gets_every_table_and_column_at_head(engine: AsyncEngine) -> None:
    await create_schema(engine)

    async with engine.connect() as conn:
        columns = await conn.run_sync(_columns)
    assert columns == {**_model_columns(), "alembic_version": {"version_num"}}
    assert await schema_revision(engine) == head_revision()

    await create_schema(engine)  # again: nothing to do
    assert await schema_revision(engine) == head_revision()


async def test_first_release_database_is_stamped_and_upgraded(engine: AsyncEngine) -> None:
    await _first_release_database(engine)
    async with engine.connect() as conn:
        before = await conn.run_sync(_columns)
    for table, new in NEW_COLUMNS.items():
        assert not new & before[table]
    assert await schema_revision(engine) is None

    await create_schema(engine)

    assert await schema_revision(engine) == head_revision()
    async with engine.connect() as conn:
        after = await conn.run_sync(_columns)
        assert after == {**_model_columns(), "alembic_version": {"version_num"}}
        skills = (await conn.execute(text("SELECT skills FROM users"))).scalar_one()
        assert skills == ""
    repository = Repository(engine)
    agent = await repository.user("agent01")
    assert agent is not None
    assert (agent.display_name, agent.queue_list, agent.skills) == ("Alice", ["billing"], "")
    assert agent.skill_levels == {}
    customer = await repository.customer_by_phone("+15550100")
    assert customer is not None and (customer.name, customer.tier) == ("Bob", "gold")
    async with repository.sessions() as session:
        cdr = await session.get(CallRecord, "1700000000.1")
    assert cdr is not None
    assert (cdr.agent_id, cdr.talk_s, cdr.agent_notes, cdr.verified) == (
        "agent01",
        90.0,
        "called back",
        True,
    )
    assert (cdr.survey_score, cdr.voicemail_path, cdr.callback_outcome) == (None, None, None)
    # the new columns take writes
    await repository.set_agent_skills("agent01", "lang.en:5,billing:3")
    agent = await repository.user("agent01")
    assert agent is not None and agent.skill_levels == {"lang.en": 5, "billing": 3}


@pytest.mark.parametrize("start", ["new", "first release"])
async def test_migrations_match_the_models(engine: AsyncEngine, start: str) -> None:
    """A model change without a migration (or the reverse) fails here:
    write the revision (``alembic revision --autogenerate``) and review it."""
    if start == "first release":
        await _first_release_database(engine)
    await create_schema(engine)

    async with engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_downgrade_to_the_baseline_and_back(engine: AsyncEngine) -> None:
    await create_schema(engine)

    def downgrade(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), BASELINE_REVISION)

    async with engine.begin() as conn:
        await conn.run_sync(downgrade)
        columns = await conn.run_sync(_columns)
    for table, new in NEW_COLUMNS.items():
        assert not new & columns[table]
    assert await schema_revision(engine) == BASELINE_REVISION

    await create_schema(engine)
    assert await schema_revision(engine) == head_revision()


async def test_prerelease_database_with_some_new_columns(engine: AsyncEngine) -> None:
    """A database made by a build between the releases: create_all had added
    some of the new columns already."""
    await _first_release_database(engine)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "ALTER TABLE users ADD COLUMN skills VARCHAR(512) DEFAULT '' NOT NULL"
        )
        await conn.exec_driver_sql("ALTER TABLE cdr ADD COLUMN survey_score INTEGER")

    await create_schema(engine)

    assert await schema_revision(engine) == head_revision()
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_concurrent_upgrades_of_separate_databases(
    new_database_url: Callable[[], str],
) -> None:
    engines = [make_engine(new_database_url()) for _ in range(4)]
    try:
        await _first_release_database(engines[0])
        await asyncio.gather(*(create_schema(engine) for engine in engines))
        for engine in engines:
            assert await schema_revision(engine) == head_revision()
            async with engine.connect() as conn:
                assert await conn.run_sync(_differences) == []
        repository = Repository(engines[1])
        assert await repository.agents() == []
    finally:
        for engine in engines:
            await engine.dispose()
