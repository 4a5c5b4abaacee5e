"""Fresh PostgreSQL databases for tests: one per test (tests/conftest.py), one per
module server (tests/api, tests/reliability), or one reached through a proxy.
``EXCHANGE_TEST_PG_URL`` names the server; without it only SQLite is used (``BACKENDS``)."""

from __future__ import annotations

import os
import uuid

__all__ = ["BACKENDS", "PG_URL", "create_database", "drop_database"]

PG_URL = os.environ.get("EXCHANGE_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


async def _execute(statement: str) -> None:
    import asyncpg

    assert PG_URL is not None
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(prefix: str) -> tuple[str, str]:
    """A new empty database: (its name, its URL on the EXCHANGE_TEST_PG_URL server)."""
    assert PG_URL is not None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _execute(f'CREATE DATABASE "{name}"')
    return name, PG_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(name: str) -> None:
    await _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
