"""Agent skills for the router; survey score, voicemail and call-back outcome on the CDR.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _existing(table: str) -> set[str]:
    """Columns already there: a database made by a pre-release build's
    ``create_all`` can have some of this revision's columns."""
    if context.is_offline_mode():
        return set()
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    users = _existing("users")
    with op.batch_alter_table("users") as batch:
        if "skills" not in users:
            # existing agents get no skills ("") until an admin sets them
            batch.add_column(sa.Column("skills", sa.String(512), nullable=False, server_default=""))
    cdr = _existing("cdr")
    new_cdr_columns: list[sa.Column[Any]] = [
        sa.Column("survey_score", sa.Integer(), nullable=True),
        sa.Column("voicemail_path", sa.String(512), nullable=True),
        sa.Column("callback_outcome", sa.String(64), nullable=True),
    ]
    with op.batch_alter_table("cdr") as batch:
        for column in new_cdr_columns:
            if column.name not in cdr:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("cdr") as batch:
        batch.drop_column("callback_outcome")
        batch.drop_column("voicemail_path")
        batch.drop_column("survey_score")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("skills")
