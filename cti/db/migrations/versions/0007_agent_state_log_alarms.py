"""The agent state log and supervisor alarms (wallboard, reports); the NPS answer on CDRs.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_state_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_agent_state_log_at", "agent_state_log", ["at"])
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.Float(), nullable=False),
        sa.Column("cleared_at", sa.Float(), nullable=True),
        sa.Column("cleared_value", sa.Float(), nullable=True),
    )
    op.create_index("ix_alarms_raised_at", "alarms", ["raised_at"])
    with op.batch_alter_table("cdr") as batch:
        batch.add_column(sa.Column("nps_score", sa.Integer(), nullable=True))
    # reports select calls by the time they reached a queue
    op.create_index("ix_cdr_queued_at", "cdr", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_cdr_queued_at", "cdr")
    with op.batch_alter_table("cdr") as batch:
        batch.drop_column("nps_score")
    op.drop_index("ix_alarms_raised_at", "alarms")
    op.drop_table("alarms")
    op.drop_index("ix_agent_state_log_at", "agent_state_log")
    op.drop_table("agent_state_log")
