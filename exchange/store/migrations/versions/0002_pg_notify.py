"""PostgreSQL: notify every node when a bulletin commits

A trigger sends ``NOTIFY avsec_bulletins`` with the recipients (or ``*`` when the list
would not fit a notification), delivered by PostgreSQL only on commit, so every node
wakes its local streams whichever node accepted the bulletin. SQLite has one writer
process and needs no trigger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "avsec_bulletins"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION avsec_notify_bulletin() RETURNS trigger AS $$
        BEGIN
            IF length(NEW.recipients) < 7000 THEN
                PERFORM pg_notify('{CHANNEL}', NEW.recipients);
            ELSE
                PERFORM pg_notify('{CHANNEL}', '*');
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER avsec_bulletin_notify AFTER INSERT ON bulletins "
        "FOR EACH ROW EXECUTE FUNCTION avsec_notify_bulletin()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS avsec_bulletin_notify ON bulletins")
    op.execute("DROP FUNCTION IF EXISTS avsec_notify_bulletin()")
