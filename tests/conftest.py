"""Fixtures shared by the suite. ``backend`` runs a test on SQLite, and on PostgreSQL too
when ``EXCHANGE_TEST_PG_URL`` is set (each test gets its own fresh database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import Harness, start_harness

PG_URL = os.environ.get("EXCHANGE_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


async def _pg_database() -> tuple[str, str]:
    import asyncpg

    assert PG_URL is not None
    base = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = "ex_" + uuid.uuid4().hex[:16]
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    root, _, _ = base.rpartition("/")
    return name, f"postgresql+asyncpg://{root.split('://', 1)[1]}/{name}"


async def _drop_pg(name: str) -> None:
    import asyncpg

    assert PG_URL is not None
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}"
        return
    name, url = await _pg_database()
    try:
        yield url
    finally:
        await _drop_pg(name)


@pytest.fixture
async def harness(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path, db_url)
    try:
        yield h
    finally:
        await h.close()
