"""Migration 0008_audit_privacy: the openings table comes and goes, and a log written
before it (version-1 leaves, no openings) keeps its rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, select

from exchange.store import audit as audit_store
from exchange.store import schema as s
from exchange.store.db import Database
from exchange.store.migrate import migrate_to


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _old_leaf(conn: Connection) -> None:
    audit_store.append(conn, {"kind": "directory", "op": "add-party", "version": 1}, 1_000)


async def test_upgrade_and_downgrade(db_url: str) -> None:
    db = Database(db_url)
    try:
        await migrate_to(db, "0007_pq")
        assert "audit_openings" not in await db.run_read(_tables)
        await db.run_write(_old_leaf)
        await migrate_to(db, "0008_audit_privacy")
        assert "audit_openings" in await db.run_read(_tables)
        entry = {"kind": "ack", "bid": "b", "party": "UZ", "status": "read"}
        idx = await db.run_write(lambda c: audit_store.append(c, entry, 2_000, ["UZ"]))
        found = await db.run_read(lambda c: audit_store.opening(c, idx))
        assert found is not None and found.readers == frozenset({"UZ"})
        assert await db.run_read(lambda c: audit_store.opening(c, 0)) is None
        await migrate_to(db, "0007_pq", down=True)
        assert "audit_openings" not in await db.run_read(_tables)
        rows = await db.run_read(lambda c: c.execute(select(s.audit_leaves.c.idx)).all())
        assert len(rows) == 2
    finally:
        await db.close()
