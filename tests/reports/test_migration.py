"""Migration 0006_reports: first-ack times filled from the acks already stored, kept by
the trigger for new acks, and removed again by the downgrade (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, insert, inspect, select, text

from exchange.store import schema as s
from exchange.store.db import Database
from exchange.store.history import history_bulletin
from exchange.store.migrate import _config, migrate_to

BID = "00000000-0000-4000-8000-0000000000aa"


def _ack(status: str, at: int) -> dict[str, object]:
    return {
        "bid": BID,
        "party": "UZ",
        "status": status,
        "client_id": "UZ/ops",
        "iat": at // 1000,
        "received_at": at,
        "jws": "",
        "log_index": 0,
    }


def _old_rows(conn: Connection) -> None:
    """A bulletin to UZ and KG, acked by UZ before the migration ('read' then 'received',
    out of order: the first ack is the earliest of any status)."""
    conn.execute(
        insert(s.bulletins),
        history_bulletin(
            1,
            BID,
            "KZ",
            type_="advisory",
            priority="routine",
            tlp="amber",
            groups=["cac-avsec"],
            to=[],
            recipients=["UZ", "KG"],
            accepted_at=1_000,
        ),
    )
    for party in ("UZ", "KG"):
        conn.execute(
            text(
                "INSERT INTO deliveries (party, seq, bid, priority, deadline)"
                " VALUES (:p, 1, :b, 'routine', 90000)"
            ),
            {"p": party, "b": BID},
        )
    conn.execute(insert(s.acks), [_ack("read", 5_000), _ack("received", 7_000)])


def _times(conn: Connection) -> dict[str, tuple[int | None, ...]]:
    d = s.deliveries.c
    rows = conn.execute(select(d.party, d.acked_at, d.read_at, d.actioned_at)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


async def test_backfill_trigger_and_downgrade(db_url: str) -> None:
    db = Database(db_url)
    try:

        def old(c: Connection) -> None:
            command.upgrade(_config(c), "0002")
            _old_rows(c)

        await db.run_write(old)
        await migrate_to(db, "0006_reports")

        def trigger(conn: Connection) -> None:
            # backfilled: first of any status 5000 ('read'), read 5000, never actioned
            assert _times(conn) == {
                "UZ": (5_000, 5_000, None),
                "KG": (None, None, None),
            }
            # the trigger: a new ack moves a time only to an earlier one
            conn.execute(insert(s.acks), [_ack("actioned", 9_000)])
            conn.execute(
                insert(s.acks),
                [{**_ack("received", 8_000), "party": "KG", "client_id": "KG/ops"}],
            )
            assert _times(conn) == {
                "UZ": (5_000, 5_000, 9_000),
                "KG": (8_000, None, None),
            }

        await db.run_write(trigger)

        def down(conn: Connection) -> None:
            command.downgrade(_config(conn), "0002")
            cols = {col["name"] for col in inspect(conn).get_columns("deliveries")}
            assert not cols & {"acked_at", "read_at", "actioned_at"}
            tables = inspect(conn).get_table_names()
            assert "last_seen" not in tables
            # acks insert again without the trigger
            conn.execute(
                insert(s.acks),
                [{**_ack("read", 9_500), "party": "KG", "client_id": "KG/ops"}],
            )

        await db.run_write(down)
    finally:
        await db.close()


async def test_report_summaries_migration_trigger_and_downgrade(db_url: str) -> None:
    """0010_report_summaries: an ack marks its bulletin's day for rebuilding (the trigger),
    and the downgrade removes the tables and the trigger."""
    db = Database(db_url)
    try:

        def up(conn: Connection) -> None:
            command.upgrade(_config(conn), "head")
            _old_rows(conn)  # its two acks fire the trigger
            days = conn.execute(select(s.report_dirty.c.day))
            assert sorted(days.scalars()) == [0, 0]  # accepted at 1,000 ms: day 0

        def down(conn: Connection) -> None:
            command.downgrade(_config(conn), "0007_pq")
            tables = inspect(conn).get_table_names()
            assert not {"report_days", "report_dirty", "report_state"} & set(tables)
            conn.execute(insert(s.acks), [_ack("actioned", 9_000)])  # no trigger left

        def up_again(conn: Connection) -> None:
            command.upgrade(_config(conn), "head")
            assert not list(conn.execute(select(s.report_dirty.c.day)))

        for step in (up, down, up_again):
            await db.run_write(step)
    finally:
        await db.close()
