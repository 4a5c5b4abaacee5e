"""signing policy: who must sign with a hybrid ML-DSA-65 + Ed25519 key (issue 20)

Revision ID: 0007_pq
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pq"
down_revision = "0006_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_policy",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_signing_policy")),
    )


def downgrade() -> None:
    op.drop_table("signing_policy")
