"""audit-log leaf privacy: the openings of committed leaves (issue 17, defect 4)

Revision ID: 0008_audit_privacy
Revises: 0007_pq
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_privacy"
down_revision = "0007_pq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_openings",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("opening", sa.LargeBinary(), nullable=False),
        sa.Column("readers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_openings")),
    )


def downgrade() -> None:
    op.drop_table("audit_openings")
