"""Reports: when each client was last seen, and an index on acceptance time

``last_seen`` records, per client, its last authenticated request, inbox pull and live
stream (at most one write a minute per client); ``ix_bulletins_accepted_at`` lets a
report select a period of bulletins without a full scan.

Revision ID: 0006_reports
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reports"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "last_seen",
        sa.Column("client_id", sa.String(96), nullable=False),
        sa.Column("party", sa.String(32), nullable=False),
        sa.Column("request_at", sa.BigInteger(), nullable=False),
        sa.Column("inbox_at", sa.BigInteger(), nullable=True),
        sa.Column("stream_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name="pk_last_seen"),
    )
    op.create_index("ix_last_seen_party", "last_seen", ["party"])
    op.create_index("ix_bulletins_accepted_at", "bulletins", ["accepted_at"])


def downgrade() -> None:
    op.drop_index("ix_bulletins_accepted_at", table_name="bulletins")
    op.drop_index("ix_last_seen_party", table_name="last_seen")
    op.drop_table("last_seen")
