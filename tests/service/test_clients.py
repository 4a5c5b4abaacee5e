"""The client-row cache of the sole writer: a hit saves a read, a directory change
drops everything, and a read that races a change is never kept."""

from __future__ import annotations

from typing import Any

from exchange.service.clients import ClientCache
from exchange.store.parties import ClientRow


def _row(status: str) -> ClientRow:
    return ClientRow("KZ/ops", "KZ", "kid1", {}, frozenset({"poster"}), status)


class _Db:
    """Answers each read with the next row; ``during`` runs while a read is open."""

    def __init__(self, *rows: ClientRow | None) -> None:
        self.rows = list(rows)
        self.reads = 0
        self.during: Any = None

    async def run_read(self, fn: Any, *, single: bool = False) -> ClientRow | None:
        self.reads += 1
        if self.during is not None:
            self.during()
        return self.rows.pop(0)


async def test_a_hit_costs_no_read_and_a_change_drops_it() -> None:
    db = _Db(_row("active"), _row("revoked"))
    cache = ClientCache(db, enabled=True)  # type: ignore[arg-type]
    assert (await cache.by_kid("kid1")).status == "active"  # type: ignore[union-attr]
    assert (await cache.by_kid("kid1")).status == "active"  # type: ignore[union-attr]
    assert db.reads == 1
    cache.invalidate()
    assert (await cache.by_kid("kid1")).status == "revoked"  # type: ignore[union-attr]
    assert db.reads == 2


async def test_a_read_racing_a_change_is_not_kept() -> None:
    db = _Db(_row("active"), _row("revoked"))
    cache = ClientCache(db, enabled=True)  # type: ignore[arg-type]
    db.during = cache.invalidate  # a revocation starts while the row is being read
    await cache.by_kid("kid1")
    db.during = None
    assert (await cache.by_kid("kid1")).status == "revoked"  # type: ignore[union-attr]


async def test_unknown_kids_are_not_kept() -> None:
    db = _Db(None, None)
    cache = ClientCache(db, enabled=True)  # type: ignore[arg-type]
    assert await cache.by_kid("nope") is None
    assert await cache.by_kid("nope") is None
    assert db.reads == 2


async def test_disabled_reads_every_time() -> None:
    db = _Db(_row("active"), _row("active"))
    cache = ClientCache(db, enabled=False)  # type: ignore[arg-type]
    await cache.by_kid("kid1")
    await cache.by_kid("kid1")
    assert db.reads == 2


async def test_the_rows_kept_are_bounded_least_recently_used_first_out() -> None:
    db = _Db(_row("active"), _row("active"), _row("active"), _row("active"))
    cache = ClientCache(db, enabled=True, maxsize=2)  # type: ignore[arg-type]
    await cache.by_kid("a")
    await cache.by_kid("b")
    await cache.by_kid("a")  # a hit: a is now the most recently used
    await cache.by_kid("c")  # b is dropped, not every row
    assert db.reads == 3
    await cache.by_kid("a")
    assert db.reads == 3
    await cache.by_kid("b")
    assert db.reads == 4
