"""The one transaction API (ADR 0014): ``run_read``/``run_write`` commit when the
function returns, roll back when it raises, map driver failures to StorageError, keep
one writer at a time on SQLite, and give a read one snapshot."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from exchange.errors import StorageError
from exchange.store import schema as s
from exchange.store.db import Database
from exchange.store.migrate import upgrade

JTI_EXP = 2_000_000_000


def _add(conn: Connection, jti: str) -> None:
    conn.execute(insert(s.jtis).values(jti=jti, exp=JTI_EXP))


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(s.jtis)).scalar() or 0)


async def test_commit_when_the_function_returns(db: Database) -> None:
    assert await db.run_write(lambda c: _add(c, "a" * 20)) is None
    assert await db.run_read(_count) == 1


async def test_rollback_when_the_function_raises(db: Database) -> None:
    def half(conn: Connection) -> None:
        _add(conn, "b" * 20)
        assert _count(conn) == 1  # the row is there inside the transaction
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await db.run_write(half)
    assert await db.run_read(_count) == 0


async def test_an_integrity_error_reaches_the_query_that_expects_it(db: Database) -> None:
    await db.run_write(lambda c: _add(c, "c" * 20))
    with pytest.raises(IntegrityError):
        await db.run_write(lambda c: _add(c, "c" * 20))
    assert await db.run_read(_count) == 1


async def test_a_driver_error_becomes_storage_error(db: Database) -> None:
    with pytest.raises(StorageError, match="database error"):
        await db.run_read(lambda c: c.exec_driver_sql("SELECT * FROM no_such_table").all())
    with pytest.raises(StorageError, match="database error"):
        await db.run_write(lambda c: c.exec_driver_sql("UPDATE no_such_table SET x = 1"))
    assert await db.ping()


async def test_an_unreachable_database_becomes_storage_error(tmp_path: Path, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"
    else:  # a port nobody listens on
        url = "postgresql+asyncpg://postgres@127.0.0.1:9/none"
    db = Database(url, connect_timeout=1.0)
    try:
        with pytest.raises(StorageError):
            await db.run_read(_count)
        with pytest.raises(StorageError):
            await db.run_write(lambda c: _add(c, "d" * 20))
        assert not await db.ping()
    finally:
        await db.close()


async def test_the_observer_sees_each_transaction(db: Database) -> None:
    seen: list[str] = []
    db.observe = lambda kind, _secs: seen.append(kind)
    await db.run_read(_count)
    await db.run_write(lambda c: _add(c, "e" * 20))
    with pytest.raises(ValueError):
        await db.run_write(lambda c: (_ for _ in ()).throw(ValueError()))
    assert seen == ["read", "write", "write"]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite file: the writer and reader threads exist for a file only."""
    d = Database(f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
    await upgrade(d)
    try:
        yield d
    finally:
        await d.close()


async def test_sqlite_has_one_writer_at_a_time(sqlite_db: Database) -> None:
    db = sqlite_db
    inside = 0
    most = 0
    lock = threading.Lock()

    def write(conn: Connection, jti: str) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            threading.Event().wait(0.02)  # in the writer thread, not on the loop
            _add(conn, jti)
        finally:
            with lock:
                inside -= 1

    await asyncio.gather(*(db.run_write(lambda c, i=i: write(c, f"w{i:019d}")) for i in range(8)))
    assert most == 1
    assert await db.run_read(_count) == 8


async def test_sqlite_writes_begin_immediate(sqlite_db: Database) -> None:
    """The write lock is taken at BEGIN, before the first write: another process's
    writer waits on busy_timeout instead of failing at its first statement."""
    db = sqlite_db
    path = db.sqlite_path
    assert path is not None
    holding, release = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        holding.set()
        release.wait(10)

    task = asyncio.create_task(db.run_write(hold))
    try:
        await asyncio.to_thread(holding.wait, 10)

        def other_writer() -> str:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                return "got the lock"
            except sqlite3.OperationalError as exc:
                return str(exc)
            finally:
                other.close()

        assert "locked" in await asyncio.to_thread(other_writer)
    finally:
        release.set()
        await task


async def test_cancelling_a_write_lets_its_transaction_finish(sqlite_db: Database) -> None:
    """A cancelled caller cannot stop the writer thread: the next writer starts only
    after the cancelled one's transaction is over (committed here)."""
    db = sqlite_db
    started, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> None:
        started.set()
        release.wait(10)
        _add(conn, "f" * 20)

    task = asyncio.create_task(db.run_write(slow))
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    nxt = asyncio.create_task(db.run_write(_count))
    await asyncio.sleep(0.05)
    assert not nxt.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await nxt == 1


def _commit_elsewhere(url: str, jti: str) -> None:
    """Commit a row from another connection, while the caller's read is open. Runs in
    a thread of its own (on PostgreSQL the read's function runs on the loop)."""

    def go() -> None:
        if url.startswith("sqlite"):
            other = sqlite3.connect(url.split(":///", 1)[1], timeout=10)
            with other:
                other.execute("INSERT INTO jtis (jti, exp) VALUES (?, ?)", (jti, JTI_EXP))
            other.close()
        else:
            import asyncpg

            async def insert_row() -> None:
                conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
                try:
                    await conn.execute("INSERT INTO jtis (jti, exp) VALUES ($1, $2)", jti, JTI_EXP)
                finally:
                    await conn.close()

            asyncio.run(insert_row())

    t = threading.Thread(target=go)
    t.start()
    t.join(10)


async def test_a_read_sees_one_snapshot(db: Database, db_url: str) -> None:
    """A commit made between two statements of one read is seen by neither of them
    (SQLite's read transaction; REPEATABLE READ on PostgreSQL)."""

    def read(conn: Connection) -> tuple[int, int]:
        before = _count(conn)
        _commit_elsewhere(db_url, "g" * 20)
        return before, _count(conn)

    assert await db.run_read(read) == (0, 0)
    assert await db.run_read(_count) == 1  # committed, seen by the next read


async def test_sqlite_connections_keep_temporary_storage_in_memory(sqlite_db: Database) -> None:
    """``temp_store`` is set when a connection opens: inside a transaction SQLite refuses
    to change it once the connection has temporary storage, and a report made its
    temporary table on reader connections that other transactions had used first (the
    second full-size report on a SQLite file answered 503)."""

    def report_after_temp_use(conn: Connection) -> int:
        conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS scratch (x INTEGER)")
        conn.exec_driver_sql("DROP TABLE temp.scratch")
        # what store/reports.py did before building its table: refused here unless
        # the connection already keeps temporary storage in memory (2)
        conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
        return int(conn.exec_driver_sql("PRAGMA temp_store").scalar_one())

    for _ in range(3):
        assert await sqlite_db.run_read(report_after_temp_use) == 2
        assert await sqlite_db.run_write(report_after_temp_use) == 2
