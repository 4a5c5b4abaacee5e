"""Group commit of jtis: one answer per request, replays refused inside a batch and
across batches, and a failed flush reported to every waiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from exchange.errors import StorageError
from exchange.service.spend import JtiSpender
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


async def test_concurrent_spends_share_a_batch_and_replays_lose(db: Database) -> None:
    spender = JtiSpender(db)
    ids = [f"jti-{i:030d}" for i in range(50)]
    results = await asyncio.gather(*(spender.spend(j, 2_000_000_000) for j in ids + ids[:10]))
    assert results[:50] == [True] * 50
    assert results[50:] == [False] * 10
    again = await asyncio.gather(*(spender.spend(j, 2_000_000_000) for j in ids[:5]))
    assert again == [False] * 5


async def test_same_id_twice_in_one_batch_passes_once(db: Database) -> None:
    spender = JtiSpender(db)
    results = await asyncio.gather(*(spender.spend("x" * 30, 2_000_000_000) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


class _Down(Database):
    """A database whose every write fails as an unreachable one does."""

    async def run_write(self, fn):  # type: ignore[no-untyped-def,override]
        raise StorageError("database unreachable")


async def test_failed_flush_reaches_every_waiter(db: Database) -> None:
    spender = JtiSpender(_Down(db.url))
    results = await asyncio.gather(
        *(spender.spend(f"jti-{i:030d}", 2_000_000_000) for i in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StorageError) for r in results), results
    spender.db = db  # the database is back: spending works again
    assert await spender.spend("y" * 30, 2_000_000_000) is True
