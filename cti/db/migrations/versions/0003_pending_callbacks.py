"""Pending call-backs survive a restart of the CTI.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_callbacks",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("callback_number", sa.String(32), nullable=False),
        sa.Column("ivr_path", sa.String(512), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.Float(), nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("recording_path", sa.String(512), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("in_flight", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pending_callbacks")
