"""The database handle: engine set-up, transactions, and the single-writer rule for SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from exchange.errors import StorageError

__all__ = ["Database", "normalise_url"]


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
    file wait on ``busy_timeout`` instead of failing."""

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
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._write_lock = asyncio.Lock()
        # A local file cannot hang a checkout; a network database can (see _connect).
        self._connect_timeout = None if self.is_sqlite else connect_timeout
        #: called with ("read" | "write", seconds) after each transaction (metrics)
        self.observe: Callable[[str, float], None] | None = None
        if self.is_sqlite:
            self._install_sqlite_hooks()

    def _install_sqlite_hooks(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook emit BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.info.pop("begin_mode", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

    def _timed(self, kind: str, start: float) -> None:
        if self.observe is not None:
            self.observe(kind, time.perf_counter() - start)

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection, got within ``connect_timeout`` as a whole: the pool wait,
        a new connection and the pre-ping. Each has its own timeout, but in a network
        partition the pre-ping alone waits out asyncpg's command timeout before a new
        connection is even tried, and a request hung for 17 s instead of failing."""
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(self._connect_timeout):
                conn = await stack.enter_async_context(self.engine.connect())
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
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._mapped("read"):
            async with self._connect() as conn, conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block exits cleanly, else rolled back."""
        with self._mapped("write"):
            if self.is_sqlite:
                async with self._write_lock, self._connect() as conn:
                    await conn.run_sync(lambda c: c.info.__setitem__("begin_mode", "IMMEDIATE"))
                    async with conn.begin():
                        yield conn
            else:
                async with self._connect() as conn, conn.begin():
                    yield conn

    async def ping(self) -> bool:
        try:
            async with self.read() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except StorageError:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
