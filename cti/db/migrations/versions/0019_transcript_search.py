"""Full-text search of transcripts (Chinese included).

``transcripts.search_text``: the redacted text's words as ``cti.qa.words``
cuts them (each Chinese character a word), filled for the transcripts stored
so far. On SQLite an FTS5 table ``transcripts_fts`` (``unicode61``) kept in
step with ``transcripts`` by triggers; on PostgreSQL a stored generated column
``search_vector`` (``to_tsvector('simple', search_text)``) with a GIN index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the FTS row of a transcript, found by its call id through the index
_FTS_ROW = (
    "transcripts_fts MATCH 'call_id : \"' || replace(old.call_id, '\"', '\"\"') || '\"'"
    " AND call_id = old.call_id"
)
SQLITE = (
    # call_id first: a search reads it from the start of each row, not after the words
    "CREATE VIRTUAL TABLE transcripts_fts USING fts5("
    "call_id, body, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN "
    "INSERT INTO transcripts_fts (call_id, body) VALUES (new.call_id, new.search_text); END",
    "CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN "
    f"DELETE FROM transcripts_fts WHERE {_FTS_ROW}; END",
    "CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF search_text, call_id ON transcripts "
    f"BEGIN DELETE FROM transcripts_fts WHERE {_FTS_ROW}; "
    "INSERT INTO transcripts_fts (call_id, body) VALUES (new.call_id, new.search_text); END",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS transcripts_fts_update",
    "DROP TRIGGER IF EXISTS transcripts_fts_delete",
    "DROP TRIGGER IF EXISTS transcripts_fts_insert",
    "DROP TABLE IF EXISTS transcripts_fts",
)
POSTGRES = (
    # stored, so a phrase's recheck and a scan read the vector instead of parsing the text
    "ALTER TABLE transcripts ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    # fastupdate off: a transcript goes into the index when stored (one per call), so
    # the planner never sees a pending list it would rather scan the table than read
    "CREATE INDEX ix_transcripts_search ON transcripts "
    "USING gin (search_vector) WITH (fastupdate = off)",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS ix_transcripts_search",
    "ALTER TABLE transcripts DROP COLUMN IF EXISTS search_vector",
)
BATCH = 500


def _backfill() -> None:
    """The words of every transcript stored before this revision."""
    from cti.qa.words import index_text

    bind = op.get_bind()
    transcripts = sa.table(
        "transcripts", sa.column("call_id", sa.String), sa.column("text", sa.Text)
    )
    update = sa.text("UPDATE transcripts SET search_text = :words WHERE call_id = :call_id")
    last = ""
    while True:
        rows = bind.execute(
            sa.select(transcripts.c.call_id, transcripts.c.text)
            .where(transcripts.c.call_id > last)
            .order_by(transcripts.c.call_id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [{"call_id": call_id, "words": index_text(text or "")} for call_id, text in rows],
        )
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)
    _backfill()  # on SQLite the update trigger fills the FTS table


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("search_text")
