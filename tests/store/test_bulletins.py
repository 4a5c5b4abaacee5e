"""Bulletin, inbox and ack queries (store/bulletins.py, inbox.py, acks.py, replay.py,
sent.py), run through the one transaction API on each backend."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from exchange.store import acks as ack_store
from exchange.store import bulletins as bstore
from exchange.store import inbox as inbox_store
from exchange.store import parties as party_store
from exchange.store import replay
from exchange.store.db import Database
from exchange.store.sent import sent_page


def _meta(n: int) -> dict[str, Any]:
    return {
        "bid": f"00000000-0000-4000-8000-{n:012d}",
        "iss": "KZ",
        "groups": [],
        "to": ["UZ", "KG"],
        "type": "advisory",
        "priority": "routine",
        "tlp": "green",
        "iat": 1,
        "exp": None,
        "supersedes": None,
    }


def _new(seq: int, envelope: str = "e", deadline: int | None = None) -> bstore.NewBulletin:
    return bstore.NewBulletin(
        seq=seq,
        meta=_meta(seq),
        client_id="KZ/ops",
        kid="k",
        envelope=envelope,
        envelope_sha256="h",
        recipients=["KG", "UZ"],
        accepted_at=1_000 * seq,
        deadline=deadline,
        log_index=seq - 1,
        receipt=f"r{seq}",
    )


def _parties(conn: Connection) -> None:
    for p in ("KZ", "UZ", "KG"):
        party_store.add_party(conn, id=p, name=p, kind="state", now=1)


async def _posted(db: Database, *bulletins: bstore.NewBulletin) -> None:
    def write(conn: Connection) -> None:
        _parties(conn)
        bstore.insert_bulletins(conn, list(bulletins))

    await db.run_write(write)


async def test_inserted_bulletins_read_back(db: Database) -> None:
    await _posted(db, _new(1), _new(2))
    b = await db.run_read(lambda c: bstore.by_bid(c, _meta(2)["bid"]))
    assert b is not None
    assert (b.seq, b.iss, b.recipients, b.receipt, b.log_index) == (2, "KZ", ("KG", "UZ"), "r2", 1)
    assert b.item == _new(2).item()
    assert await db.run_read(lambda c: bstore.by_bid(c, _meta(9)["bid"])) is None
    found = await db.run_read(lambda c: bstore.by_bids(c, [_meta(1)["bid"], _meta(9)["bid"]]))
    assert list(found) == [_meta(1)["bid"]]
    assert await db.run_read(bstore.max_seq) == 2
    assert await db.run_read(bstore.pending_count) == 4


async def test_a_used_bid_or_seq_is_refused(db: Database) -> None:
    await _posted(db, _new(1))
    with pytest.raises(IntegrityError):
        await db.run_write(lambda c: bstore.insert_bulletins(c, [_new(1)]))
    assert await db.run_read(bstore.max_seq) == 1


async def test_inbox_pages_are_bounded_in_items_and_bytes(db: Database) -> None:
    await _posted(db, *(_new(i, envelope="x" * 100) for i in range(1, 8)))
    items, more = await db.run_read(lambda c: inbox_store.inbox_page(c, "UZ", 0, 3, sys.maxsize))
    assert [i["seq"] for i in items] == [1, 2, 3] and more
    items, more = await db.run_read(lambda c: inbox_store.inbox_page(c, "UZ", 3, 10, 250))
    assert [i["seq"] for i in items] == [4, 5] and more  # a third would pass 250 bytes
    items, more = await db.run_read(lambda c: inbox_store.inbox_page(c, "UZ", 5, 10, 1))
    assert [i["seq"] for i in items] == [6] and more  # one item always fits
    rows, more = await db.run_read(
        lambda c: inbox_store.inbox_rows(c, "UZ", 5, 10, sys.maxsize, chunk=1)
    )
    assert [r.seq for r in rows] == [6, 7] and not more
    assert [bstore.item_of(r) for r in rows] == [
        _new(6, "x" * 100).item(),
        _new(7, "x" * 100).item(),
    ]
    assert await db.run_read(lambda c: inbox_store.inbox_page(c, "KZ", 0, 10, 10**6)) == ([], False)


async def test_deliveries_are_marked_once(db: Database) -> None:
    await _posted(db, *(_new(i) for i in range(1, 6)))
    await db.run_write(lambda c: inbox_store.mark_delivered(c, {"UZ": [1]}, 50, [("KG", 2, 4)]))
    await db.run_write(lambda c: inbox_store.mark_delivered(c, {"UZ": [1, 2]}, 60))
    d = await db.run_read(lambda c: inbox_store.delivery_of(c, _meta(1)["bid"], "UZ"))
    assert d.delivered_at == 50  # the first push or fetch stays
    rows = await db.run_read(lambda c: inbox_store.deliveries_of(c, _meta(3)["bid"]))
    assert [(r.party, r.delivered_at) for r in rows] == [("KG", 50), ("UZ", None)]
    assert await db.run_read(bstore.pending_count) == 10 - 5


def _ack(status: str, at: int) -> ack_store.AckRow:
    return ack_store.AckRow(_meta(1)["bid"], "UZ", status, "UZ/ops", 1, at, "jws", 7)


async def test_an_ack_is_stored_once_per_status(db: Database) -> None:
    await _posted(db, _new(1))
    assert await db.run_write(lambda c: ack_store.insert_ack(c, _ack("read", 10)))
    assert not await db.run_write(lambda c: ack_store.insert_ack(c, _ack("read", 11)))
    assert await db.run_write(lambda c: ack_store.insert_ack(c, _ack("received", 12)))
    bid = _meta(1)["bid"]
    assert await db.run_read(lambda c: ack_store.ack_row(c, bid, "UZ", "read")) == _ack("read", 10)
    assert await db.run_read(lambda c: ack_store.ack_row(c, bid, "KG", "read")) is None
    acks = await db.run_read(lambda c: ack_store.acks_of(c, bid))
    assert [a.status for a in acks] == ["read", "received"]


async def test_overdue_deliveries_are_escalated_once(db: Database) -> None:
    await _posted(db, _new(1, deadline=100), _new(2, deadline=10_000))
    await db.run_write(lambda c: ack_store.insert_ack(c, _ack("received", 50)))
    rows = await db.run_read(lambda c: ack_store.overdue(c, 200))
    assert [(r.party, r.seq, r.iss) for r in rows] == [("KG", 1, "KZ")]  # UZ acked
    assert await db.run_write(lambda c: ack_store.set_escalated(c, "KG", 1, 200))
    assert not await db.run_write(lambda c: ack_store.set_escalated(c, "KG", 1, 300))
    assert await db.run_read(lambda c: ack_store.overdue(c, 200)) == []


async def test_token_ids_are_spent_once(db: Database) -> None:
    fresh = await db.run_write(lambda c: replay.use_jtis(c, [("a" * 20, 100), ("b" * 20, 5)]))
    assert fresh == {"a" * 20, "b" * 20}
    again = await db.run_write(lambda c: replay.use_jtis(c, [("a" * 20, 100), ("c" * 20, 100)]))
    assert again == {"c" * 20}
    assert await db.run_write(lambda c: replay.prune_jtis(c, 50, 10)) == 1  # b expired
    assert await db.run_write(lambda c: replay.use_jtis(c, [("b" * 20, 100)])) == {"b" * 20}


async def test_the_sent_page_counts_the_ledger(db: Database) -> None:
    await _posted(db, _new(1, deadline=100), _new(2))
    await db.run_write(lambda c: ack_store.insert_ack(c, _ack("read", 50)))
    page = await db.run_read(lambda c: sent_page(c, "KZ", 0, 10, 1_000))
    assert [(p["seq"], p["recipients"], p["acknowledged"], p["overdue"]) for p in page] == [
        (1, 2, 1, 1),
        (2, 2, 0, 0),
    ]
    assert await db.run_read(lambda c: sent_page(c, "KZ", 1, 10, 1_000)) != []
    assert await db.run_read(lambda c: sent_page(c, "UZ", 0, 10, 1_000)) == []
