"""Report summaries (issue 14, ADR 0018): per-day aggregates of the deliveries, so that
a report over a year reads a few thousand rows instead of a million

- ``report_days``: per (day of acceptance, sender, recipient, priority, groups), the
  counts a report adds up and a histogram of each step's time (``hist``);
- ``report_dirty``: days whose summary must be rebuilt (an ack, a late delivery, a
  history written into the past); a trigger on ``acks`` adds one row per ack, the
  delivery marker one statement per batch;
- ``report_state``: the first day not summarized yet.

Revision ID: 0010_report_summaries
Revises: 0007_pq
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_report_summaries"
down_revision = "0009_key_lifecycle"
branch_labels = None
depends_on = None

_DIRTY = (
    "INSERT INTO report_dirty (day) SELECT b.accepted_at / 86400000 FROM bulletins b"
    " WHERE b.bid = NEW.bid"
)


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("iss", sa.String(32), nullable=False),
        sa.Column("party", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        *(
            sa.Column(c, sa.BigInteger(), nullable=False)
            for c in (
                "deliveries",
                "delivered",
                "acked",
                "n_read",
                "n_act",
                "within",
                "acked_dl",
                "open_dl",
            )
        ),
        sa.Column("open_max", sa.BigInteger(), nullable=True),
        sa.Column("hist", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day", "iss", "party", "priority", "groups", name="pk_report_days"),
    )
    # a report looks for days with an open deadline still to come: a few recent ones
    op.create_index("ix_report_days_open_max", "report_days", ["open_max"])
    op.create_table(
        "report_dirty",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_dirty"),
    )
    op.create_table(
        "report_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("built_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_state"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE OR REPLACE FUNCTION avsec_report_dirty() RETURNS trigger AS $$
            BEGIN
                {_DIRTY};
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql"""
        )
        op.execute(
            "CREATE TRIGGER avsec_report_dirty AFTER INSERT ON acks "
            "FOR EACH ROW EXECUTE FUNCTION avsec_report_dirty()"
        )
    else:
        op.execute(f"CREATE TRIGGER avsec_report_dirty AFTER INSERT ON acks BEGIN {_DIRTY}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS avsec_report_dirty ON acks")
        op.execute("DROP FUNCTION IF EXISTS avsec_report_dirty()")
    else:
        op.execute("DROP TRIGGER IF EXISTS avsec_report_dirty")
    op.drop_table("report_state")
    op.drop_table("report_dirty")
    op.drop_index("ix_report_days_open_max", table_name="report_days")
    op.drop_table("report_days")
