"""Indexes the reports need at a million CDRs.

* ``cdr (caller_number, queued_at)``: the calls after a period from the
  numbers that called in it (repeat calls and complaints) are found in the
  index instead of reading every call of each number;
* ``agent_state_log (agent_id, at)``: each agent's state in force at the start
  of a period (the sessions report) is read from the index alone.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cdr_caller_number_queued_at", "cdr", ["caller_number", "queued_at"])
    op.create_index("ix_agent_state_log_agent_id_at", "agent_state_log", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_log_agent_id_at", table_name="agent_state_log")
    op.drop_index("ix_cdr_caller_number_queued_at", table_name="cdr")
