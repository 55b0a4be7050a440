"""Baseline: the schema of the first release (users, customers, cdr).

A database made by that release's ``create_all`` has exactly these tables and
no ``alembic_version``; ``cti.db.migrate`` stamps it with this revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("interface", sa.String(128), nullable=True),
        sa.Column("queues", sa.String(512), nullable=False),
        sa.Column("wrap_up_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("account_number", sa.String(32), nullable=True),
        sa.Column("pin_hash", sa.String(256), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_account_number", "customers", ["account_number"])
    op.create_index("ix_customers_phone", "customers", ["phone"], unique=True)
    op.create_table(
        "cdr",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("ivr_path", sa.String(512), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("recording_path", sa.String(512), nullable=True),
        sa.Column("agent_disposition", sa.String(64), nullable=True),
        sa.Column("agent_notes", sa.Text(), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_index("ix_cdr_agent_id", "cdr", ["agent_id"])
    op.create_index("ix_cdr_caller_number", "cdr", ["caller_number"])
    op.create_index("ix_cdr_entered_at", "cdr", ["entered_at"])
    op.create_index("ix_cdr_queue", "cdr", ["queue"])


def downgrade() -> None:
    op.drop_index("ix_cdr_queue", table_name="cdr")
    op.drop_index("ix_cdr_entered_at", table_name="cdr")
    op.drop_index("ix_cdr_caller_number", table_name="cdr")
    op.drop_index("ix_cdr_agent_id", table_name="cdr")
    op.drop_table("cdr")
    op.drop_index("ix_customers_phone", table_name="customers")
    op.drop_index("ix_customers_account_number", table_name="customers")
    op.drop_table("customers")
    op.drop_table("users")
