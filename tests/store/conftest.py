"""A migrated database per test, on SQLite and (with EXCHANGE_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from exchange.store.db import Database
from exchange.store.migrate import upgrade


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    d = Database(db_url)
    await upgrade(d)
    try:
        yield d
    finally:
        await d.close()
