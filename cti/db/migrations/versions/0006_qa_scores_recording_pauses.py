"""QA: scores, training calls, paused spans of recordings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_pauses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_recording_pauses_call_id", "recording_pauses", ["call_id"])
    op.create_table(
        "qa_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("scorer", sa.String(64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scorecard", sa.String(64), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("critical_failed", sa.Boolean(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
    )
    op.create_index("ix_qa_scores_call_id", "qa_scores", ["call_id"])
    op.create_index("ix_qa_scores_agent_id", "qa_scores", ["agent_id"])
    op.create_table(
        "qa_training",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("marked_by", sa.String(64), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("qa_training")
    op.drop_index("ix_qa_scores_agent_id", table_name="qa_scores")
    op.drop_index("ix_qa_scores_call_id", table_name="qa_scores")
    op.drop_table("qa_scores")
    op.drop_index("ix_recording_pauses_call_id", table_name="recording_pauses")
    op.drop_table("recording_pauses")
