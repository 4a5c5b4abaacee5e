"""Fixtures shared by the suite. ``backend`` runs a test on SQLite, and on PostgreSQL too
when ``EXCHANGE_TEST_PG_URL`` is set (each test gets its own fresh database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pgdb import BACKENDS, create_database, drop_database
from support import Harness, start_harness


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}"
        return
    name, url = await create_database("ex")
    try:
        yield url
    finally:
        await drop_database(name)


@pytest.fixture
async def harness(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path, db_url)
    try:
        yield h
    finally:
        await h.close()
