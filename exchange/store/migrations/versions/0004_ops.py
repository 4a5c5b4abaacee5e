"""exchange_meta: the exchange id a database belongs to; parties.status

``serve`` compares it with its configuration and refuses another exchange's database
(a forgotten ``EXCHANGE_ID`` used to start a server every client then refused).
``init`` writes the row; ``migrate`` writes it for a database made before this revision.
A party's ``status`` (active, suspended, removed) lets the operator suspend or remove it.

Revision ID: 0004_ops
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ops"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_exchange_meta")),
    )
    op.add_column(  # ADD COLUMN in place on both backends (no table copy)
        "parties",
        sa.Column("status", sa.String(length=16), nullable=False, server_default="active"),
    )


def downgrade() -> None:
    # Not batch mode: on SQLite it would copy and drop ``parties``, which the foreign
    # keys of clients and keys forbid; SQLite 3.35+ drops a column in place.
    op.execute("ALTER TABLE parties DROP COLUMN status")
    op.drop_table("exchange_meta")
