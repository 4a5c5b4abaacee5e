"""The database handle: engine set-up, transactions, and the single-writer rule for SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from exchange.errors import StorageError

__all__ = ["Database", "normalise_url"]

T = TypeVar("T")

#: threads that run read transactions on SQLite (each with its own connection)
SQLITE_READERS = 4
#: a SQLite "transaction" that issues no BEGIN: each statement is its own snapshot
_AUTOCOMMIT = "AUTOCOMMIT"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite://`` URLs and pick the async driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class Database:
    """Owns the engine. Writes on SQLite are serialised in-process (one writer at a time,
    as SQLite allows) and start with ``BEGIN IMMEDIATE`` so that several processes on one
    file wait on ``busy_timeout`` instead of failing.

    One way in (ADR 0014): ``run_read(fn)``/``run_write(fn)`` run a synchronous
    ``fn(conn)`` as one whole transaction, committed when ``fn`` returns and rolled back
    when it raises. On a SQLite file that is one hand-off to a thread holding a plain
    ``sqlite3`` connection, instead of one per statement through aiosqlite (issue 8: ~65
    thread round trips per bulletin were the bound); on PostgreSQL and in-memory SQLite
    ``fn`` runs on a pooled async connection through ``run_sync`` (no thread hop)."""

    def __init__(self, url: str, *, echo: bool = False, connect_timeout: float = 3.0) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            # aiosqlite runs each connection on its own thread; a small pool suffices.
            kwargs["pool_size"] = 8
            kwargs["max_overflow"] = 8
        else:
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
            kwargs["pool_timeout"] = connect_timeout
            kwargs["connect_args"] = {"timeout": connect_timeout, "command_timeout": 15}
        if self.url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
            kwargs = {"echo": echo, "poolclass": NullPool}
        self._engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # Reads on PostgreSQL: one snapshot per transaction (see _read). Same pool; the
        # level is set at checkout and reset at checkin, with no statement of its own.
        self._read_engine = (
            self._engine
            if self.is_sqlite
            else self._engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._write_lock = asyncio.Lock()
        # A local file cannot hang a checkout; a network database can (see _connect).
        self._connect_timeout = None if self.is_sqlite else connect_timeout
        #: called with ("read" | "write", seconds) after each transaction (metrics)
        self.observe: Callable[[str, float], None] | None = None
        self._sync: Engine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            self._install_sqlite_hooks(self._engine.sync_engine)
            path = self._engine.url.database
            if path and path != ":memory:":
                # check_same_thread=False: connections move between the pool's threads
                # (never used by two at once: the pool hands each to one checkout).
                self._sync = create_engine(
                    f"sqlite:///{path}",
                    echo=echo,
                    pool_size=SQLITE_READERS + 1,
                    max_overflow=0,
                    connect_args={"check_same_thread": False},
                )
                self._install_sqlite_hooks(self._sync)
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="exchange-writer")
                self._readers = ThreadPoolExecutor(
                    SQLITE_READERS, thread_name_prefix="exchange-reader"
                )

    @staticmethod
    def _install_sqlite_hooks(sync_engine: Engine) -> None:
        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook emit BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            # a report's temporary table and sorts in memory, not in a file; it cannot be
            # changed inside a transaction, and every read here is one (store/reports.py)
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.info.pop("begin_mode", "")
            if mode != _AUTOCOMMIT:
                conn.exec_driver_sql(f"BEGIN {mode}".strip())

    def _timed(self, kind: str, start: float) -> None:
        if self.observe is not None:
            self.observe(kind, time.perf_counter() - start)

    @contextlib.asynccontextmanager
    async def _connect(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        """A pooled connection, got within ``connect_timeout`` as a whole: the pool wait,
        a new connection and the pre-ping. Each has its own timeout, but in a network
        partition the pre-ping alone waits out asyncpg's command timeout before a new
        connection is even tried, and a request hung for 17 s instead of failing."""
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(self._connect_timeout):
                conn = await stack.enter_async_context(engine.connect())
            yield conn

    @contextlib.contextmanager
    def _mapped(self, kind: str) -> Iterator[None]:
        """Driver and pool failures become StorageError (503); an IntegrityError is left
        to the query that expects it. Reports the transaction's duration."""
        start = time.perf_counter()
        try:
            yield
        except (IntegrityError, StorageError):
            raise
        except DBAPIError as exc:
            raise StorageError("database error") from exc
        except (OSError, SQLAlchemyError) as exc:
            raise StorageError("database unreachable") from exc
        finally:
            self._timed(kind, start)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction, one consistent snapshot on both backends: SQLite's
        deferred BEGIN, and REPEATABLE READ on PostgreSQL (its default, READ COMMITTED,
        takes a new snapshot per statement). asyncpg names the level in its BEGIN: no
        extra round trip."""
        with self._mapped("read"):
            async with self._connect(self._read_engine) as conn, conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block exits cleanly, else rolled back."""
        with self._mapped("write"):
            if self.is_sqlite:
                async with self._write_lock, self._connect(self._engine) as conn:
                    await conn.run_sync(lambda c: c.info.__setitem__("begin_mode", "IMMEDIATE"))
                    async with conn.begin():
                        yield conn
            else:
                async with self._connect(self._engine) as conn, conn.begin():
                    yield conn

    def _sync_txn(self, fn: Callable[[Connection], T], mode: str) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            conn.info["begin_mode"] = mode
            with conn.begin():
                return fn(conn)

    async def _in_thread(
        self, pool: ThreadPoolExecutor, fn: Callable[[Connection], T], mode: str
    ) -> T:
        fut = asyncio.get_running_loop().run_in_executor(pool, self._sync_txn, fn, mode)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # The thread cannot be stopped: let its transaction finish (or fail) before
            # the write lock is released to the next writer.
            await asyncio.wait([fut])
            raise

    async def run_read(self, fn: Callable[[Connection], T], *, single: bool = False) -> T:
        """``fn(conn)`` in one read transaction (a consistent snapshot). ``single``: fn
        runs one statement, which SQLite runs as its own snapshot without BEGIN/COMMIT
        (two fewer statements on the path of every request)."""
        if self._readers is None:
            async with self._read() as conn:
                return await conn.run_sync(fn)
        with self._mapped("read"):
            return await self._in_thread(self._readers, fn, _AUTOCOMMIT if single else "")

    async def run_write(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in one write transaction, committed when it returns."""
        if self._writer is None:
            async with self._write() as conn:
                return await conn.run_sync(fn)
        with self._mapped("write"):
            async with self._write_lock:
                return await self._in_thread(self._writer, fn, "IMMEDIATE")

    @property
    def sqlite_path(self) -> str | None:
        """The file of a SQLite database (None: PostgreSQL or in memory)."""
        path = self._engine.url.database if self.is_sqlite else None
        return path if path and path != ":memory:" else None

    @property
    def dsn(self) -> str:
        """The database URL with its password, for a connection of its own (LISTEN)."""
        return self._engine.url.render_as_string(hide_password=False)

    async def ping(self) -> bool:
        try:
            await self.run_read(lambda c: c.exec_driver_sql("SELECT 1").scalar(), single=True)
        except StorageError:
            return False
        return True

    async def close(self) -> None:
        await self._engine.dispose()
        if self._sync is not None:
            assert self._writer is not None and self._readers is not None
            self._readers.shutdown(wait=True)
            self._writer.shutdown(wait=True)
            await asyncio.to_thread(self._sync.dispose)
