"""Migration 0008_audit_privacy: the openings table comes and goes, and a log written
before it (version-1 leaves, no openings) keeps its rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, inspect, select

from exchange.store import audit as audit_store
from exchange.store import schema as s
from exchange.store.db import Database
from exchange.store.migrate import _config


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _old_leaf(conn: Connection) -> None:
    audit_store.append(conn, {"kind": "directory", "op": "add-party", "version": 1}, 1_000)


async def test_upgrade_and_downgrade(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(c), "0007_pq"))
            assert "audit_openings" not in await conn.run_sync(_tables)
            await conn.run_sync(_old_leaf)
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(c), "0008_audit_privacy"))
            assert "audit_openings" in await conn.run_sync(_tables)
            entry = {"kind": "ack", "bid": "b", "party": "UZ", "status": "read"}
            idx = await conn.run_sync(lambda c: audit_store.append(c, entry, 2_000, ["UZ"]))
            found = await conn.run_sync(lambda c: audit_store.opening(c, idx))
            assert found is not None and found.readers == frozenset({"UZ"})
            assert await conn.run_sync(lambda c: audit_store.opening(c, 0)) is None
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_config(c), "0007_pq"))
            assert "audit_openings" not in await conn.run_sync(_tables)
            rows = (await conn.execute(select(s.audit_leaves.c.idx))).all()
            assert len(rows) == 2
    finally:
        await db.close()
