"""The audit log: one entry per row changed, with before and after values.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(150), nullable=True),
        sa.Column("token_name", sa.String(100), nullable=True),
        sa.Column("database", sa.String(100), nullable=False),
        sa.Column("schema", sa.String(255), nullable=False),
        sa.Column("table", sa.String(255), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("cascade", sa.Text(), nullable=True),
        sa.Column("batch", sa.String(36), nullable=True),
        sa.Column("revert_of", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete')", name=op.f("ck_audit_entries_action")
        ),
        sa.CheckConstraint(
            "outcome IN ('pending', 'committed', 'failed', 'unknown')",
            name=op.f("ck_audit_entries_outcome"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_row_hash_id", "audit_entries", ["row_hash", "id"])
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_batch", "audit_entries", ["batch"])
    op.create_index("ix_audit_entries_outcome", "audit_entries", ["outcome"])
    op.create_index("ix_audit_entries_user_name_id", "audit_entries", ["user_name", "id"])


def downgrade() -> None:
    op.drop_table("audit_entries")
