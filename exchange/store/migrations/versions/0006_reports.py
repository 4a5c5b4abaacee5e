# ruff: noqa: S608 - the SQL here is constant text
"""Reports: first-ack times on each delivery, when each client was last seen, and an
index on acceptance time

- ``deliveries.acked_at``/``read_at``/``actioned_at``: the first ack of any status, of
  ``read`` or ``actioned``, and of ``actioned``, kept by a trigger on ``acks`` (the ack
  path is unchanged) and filled from the acks already stored, so that a report reads
  one row per delivery instead of joining the acks of a year;
- ``last_seen``: per client, its last authenticated request, inbox pull and live stream
  (at most one write a minute per client);
- ``ix_bulletins_accepted_at``: a report selects a period of bulletins.

Revision ID: 0006_reports
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reports"
down_revision = "0005_alerts"
branch_labels = None
depends_on = None

_SET = """
    acked_at = CASE WHEN acked_at IS NULL OR NEW.received_at < acked_at
                    THEN NEW.received_at ELSE acked_at END,
    read_at = CASE WHEN NEW.status IN ('read', 'actioned')
                        AND (read_at IS NULL OR NEW.received_at < read_at)
                   THEN NEW.received_at ELSE read_at END,
    actioned_at = CASE WHEN NEW.status = 'actioned'
                            AND (actioned_at IS NULL OR NEW.received_at < actioned_at)
                       THEN NEW.received_at ELSE actioned_at END
"""
_WHERE = "WHERE bid = NEW.bid AND party = NEW.party"


def upgrade() -> None:
    for col in ("acked_at", "read_at", "actioned_at"):
        op.add_column("deliveries", sa.Column(col, sa.BigInteger(), nullable=True))
    op.execute(
        """UPDATE deliveries SET
        acked_at = (SELECT MIN(a.received_at) FROM acks a
                    WHERE a.bid = deliveries.bid AND a.party = deliveries.party),
        read_at = (SELECT MIN(a.received_at) FROM acks a
                   WHERE a.bid = deliveries.bid AND a.party = deliveries.party
                     AND a.status IN ('read', 'actioned')),
        actioned_at = (SELECT MIN(a.received_at) FROM acks a
                       WHERE a.bid = deliveries.bid AND a.party = deliveries.party
                         AND a.status = 'actioned')"""
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE OR REPLACE FUNCTION avsec_ack_times() RETURNS trigger AS $$
            BEGIN
                UPDATE deliveries SET {_SET} {_WHERE};
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql"""
        )
        op.execute(
            "CREATE TRIGGER avsec_ack_times AFTER INSERT ON acks "
            "FOR EACH ROW EXECUTE FUNCTION avsec_ack_times()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER avsec_ack_times AFTER INSERT ON acks "
            f"BEGIN UPDATE deliveries SET {_SET} {_WHERE}; END"
        )
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
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS avsec_ack_times ON acks")
        op.execute("DROP FUNCTION IF EXISTS avsec_ack_times()")
    else:
        op.execute("DROP TRIGGER IF EXISTS avsec_ack_times")
    with op.batch_alter_table("deliveries") as batch:
        for col in ("actioned_at", "read_at", "acked_at"):
            batch.drop_column(col)
