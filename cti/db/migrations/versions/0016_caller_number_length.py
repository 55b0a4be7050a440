"""Caller numbers as long as Asterisk passes them (up to 79 bytes; was 64).

PostgreSQL enforces ``VARCHAR`` lengths where SQLite does not: a longer caller
number made the CDR write fail there.

Revision ID: 0016
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cdr", "pending_callbacks")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "caller_number",
                existing_type=sa.String(64),
                type_=sa.String(80),
                existing_nullable=False,
            )


def downgrade() -> None:
    # a longer number is cut to fit the old column
    for table in TABLES:
        op.execute(sa.text(f"UPDATE {table} SET caller_number = substr(caller_number, 1, 64)"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "caller_number",
                existing_type=sa.String(80),
                type_=sa.String(64),
                existing_nullable=False,
            )
