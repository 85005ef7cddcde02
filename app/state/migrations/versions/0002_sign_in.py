"""Sign-in: session epochs and last login on users, hidden columns, shared settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite cannot add a NOT NULL column with a server default in place everywhere
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "hidden_columns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database", sa.String(100), nullable=False),
        sa.Column("schema", sa.String(255), nullable=False),
        sa.Column("table", sa.String(255), nullable=False),
        sa.Column("column", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hidden_columns")),
        sa.UniqueConstraint(
            "database",
            "schema",
            "table",
            "column",
            name=op.f("uq_hidden_columns_database_schema_table_column"),
        ),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("hidden_columns")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("session_epoch")
