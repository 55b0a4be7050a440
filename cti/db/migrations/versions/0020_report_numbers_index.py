"""The numbers that called in a period, read from an index alone.

``cdr (queued_at, caller_number)``: a report looks for the calls after its
period from the numbers that called in it (repeat calls and complaints); the
numbers of the period are read from this index without visiting each CDR.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cdr_queued_at_caller_number", "cdr", ["queued_at", "caller_number"])


def downgrade() -> None:
    op.drop_index("ix_cdr_queued_at_caller_number", table_name="cdr")
