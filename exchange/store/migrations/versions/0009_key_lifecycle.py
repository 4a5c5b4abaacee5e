"""key lifecycle: rotated client signing keys, server key rotations, key expiry (issue 18)

Revision ID: 0009_key_lifecycle
Revises: 0007_pq
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_key_lifecycle"
down_revision = "0008_audit_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "previous_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=96), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("rotated_at", sa.BigInteger(), nullable=False),
        sa.Column("retire_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_previous_signing_keys_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_previous_signing_keys")),
    )
    op.create_index(
        op.f("ix_previous_signing_keys_client_id"), "previous_signing_keys", ["client_id"]
    )
    op.create_table(
        "server_key_rotations",
        sa.Column("old_kid", sa.String(length=64), nullable=False),
        sa.Column("new_kid", sa.String(length=64), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("old_kid", name=op.f("pk_server_key_rotations")),
        sa.UniqueConstraint("new_kid", name=op.f("uq_server_key_rotations_new_kid")),
    )
    op.add_column("clients", sa.Column("expires_at", sa.BigInteger(), nullable=True))
    op.add_column("enc_keys", sa.Column("expires_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enc_keys") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("expires_at")
    op.drop_table("server_key_rotations")
    op.drop_index(op.f("ix_previous_signing_keys_client_id"), table_name="previous_signing_keys")
    op.drop_table("previous_signing_keys")
