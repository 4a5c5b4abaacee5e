"""alerts: webhook endpoints and e-mail addresses, the durable outbox, the fan-out cursor

Revision ID: 0005_alerts
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_alerts"
down_revision = "0004_ops"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("events", sa.String(length=64), nullable=False),
        sa.Column("types", sa.Text(), nullable=True),
        sa.Column("min_priority", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party"], ["parties.id"], name=op.f("fk_alert_endpoints_party_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_endpoints")),
    )
    with op.batch_alter_table("alert_endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_endpoints_party"), ["party"], unique=False)
    op.create_table(
        "alert_outbox",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=36), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("done_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["alert_endpoints.id"],
            name=op.f("fk_alert_outbox_endpoint_id_alert_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
        sa.UniqueConstraint(
            "endpoint_id",
            "event",
            "seq",
            "subject",
            name=op.f("uq_alert_outbox_endpoint_id_event_seq_subject"),
        ),
        sa.UniqueConstraint("nonce", name=op.f("uq_alert_outbox_nonce")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_outbox_state_endpoint", ["state", "endpoint_id"], unique=False
        )
    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_state")),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_outbox_state_endpoint")
    op.drop_table("alert_outbox")
    with op.batch_alter_table("alert_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_endpoints_party"))
    op.drop_table("alert_endpoints")
