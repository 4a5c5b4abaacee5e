"""Queries for bulletins, their per-party deliveries, and acks."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.store import schema as s

__all__ = [
    "AckRow",
    "NewBulletin",
    "StoredBulletin",
    "ack_row",
    "acks_of",
    "by_bid",
    "by_bid_txn",
    "by_bids_txn",
    "deliveries_of",
    "delivery_of",
    "inbox",
    "inbox_page",
    "inbox_page_txn",
    "inbox_rows_txn",
    "insert_ack",
    "insert_bulletin",
    "insert_bulletins_txn",
    "latest_seq",
    "mark_delivered_txn",
    "max_seq_txn",
    "overdue",
    "pending_count",
    "set_escalated",
    "set_receipt",
]

ITEM_COLUMNS = (
    s.bulletins.c.seq,
    s.bulletins.c.bid,
    s.bulletins.c.iss,
    s.bulletins.c.groups,
    s.bulletins.c.to,
    s.bulletins.c.type,
    s.bulletins.c.priority,
    s.bulletins.c.tlp,
    s.bulletins.c.iat,
    s.bulletins.c.exp,
    s.bulletins.c.supersedes,
    s.bulletins.c.envelope,
)


def item_of(row: Any) -> dict[str, Any]:
    """An inbox item (PROTOCOL §7)."""
    return {
        "seq": int(row.seq),
        "bid": row.bid,
        "iss": row.iss,
        "groups": json.loads(row.groups),
        "to": json.loads(row.to),
        "type": row.type,
        "priority": row.priority,
        "tlp": row.tlp,
        "iat": int(row.iat),
        "exp": None if row.exp is None else int(row.exp),
        "supersedes": row.supersedes,
        "envelope": row.envelope,
    }


@dataclass(frozen=True)
class StoredBulletin:
    seq: int
    bid: str
    iss: str
    envelope_sha256: str
    recipients: tuple[str, ...]
    accepted_at: int
    log_index: int
    receipt: str
    item: dict[str, Any]


def _stored(row: Any) -> StoredBulletin:
    return StoredBulletin(
        seq=int(row.seq),
        bid=row.bid,
        iss=row.iss,
        envelope_sha256=row.envelope_sha256,
        recipients=tuple(json.loads(row.recipients)),
        accepted_at=int(row.accepted_at),
        log_index=int(row.log_index),
        receipt=row.receipt,
        item=item_of(row),
    )


_BY_BID = select(s.bulletins).where(s.bulletins.c.bid == bindparam("bid"))
_INSERT_BULLETIN = insert(s.bulletins)
_INSERT_DELIVERY = insert(s.deliveries)
_MAX_SEQ = select(func.max(s.bulletins.c.seq))


def by_bid_txn(conn: Connection, bid: str) -> StoredBulletin | None:
    row = conn.execute(_BY_BID, {"bid": bid}).first()
    return _stored(row) if row else None


async def by_bid(conn: AsyncConnection, bid: str) -> StoredBulletin | None:
    return await conn.run_sync(by_bid_txn, bid)


def by_bids_txn(conn: Connection, bids: list[str]) -> dict[str, StoredBulletin]:
    """The stored bulletins among ``bids`` (one query for a whole batch)."""
    rows = conn.execute(select(s.bulletins).where(s.bulletins.c.bid.in_(bids))).all()
    return {r.bid: _stored(r) for r in rows}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def max_seq_txn(conn: Connection) -> int:
    """The newest ``seq`` (0 for none). Admission draws the next ones itself, under the
    log's lock, so a batch can be written in one statement with its receipts (which name
    the ``seq``) and commit order stays ``seq`` order (ADR 0005)."""
    return int(conn.execute(_MAX_SEQ).scalar() or 0)


@dataclass(frozen=True)
class NewBulletin:
    """One accepted bulletin as admission writes it."""

    seq: int
    meta: dict[str, Any]
    client_id: str
    kid: str
    envelope: str
    envelope_sha256: str
    recipients: list[str]
    accepted_at: int
    deadline: int | None
    log_index: int = -1
    receipt: str = ""

    def item(self) -> dict[str, Any]:
        """The inbox item (PROTOCOL §7), as :func:`item_of` reads it back."""
        m = self.meta
        return {
            "seq": self.seq,
            "bid": m["bid"],
            "iss": m["iss"],
            "groups": list(m["groups"]),
            "to": list(m["to"]),
            "type": m["type"],
            "priority": m["priority"],
            "tlp": m["tlp"],
            "iat": m["iat"],
            "exp": m["exp"],
            "supersedes": m["supersedes"],
            "envelope": self.envelope,
        }


def insert_bulletins_txn(conn: Connection, batch: list[NewBulletin]) -> None:
    """Insert bulletins with their deliveries, two statements for the whole batch.
    Raises IntegrityError when a bid or seq is already used."""
    if not batch:
        return
    rows: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for b in batch:
        m = b.meta
        rows.append(
            {
                "seq": b.seq,
                "bid": m["bid"],
                "iss": m["iss"],
                "client_id": b.client_id,
                "kid": b.kid,
                "type": m["type"],
                "priority": m["priority"],
                "tlp": m["tlp"],
                "iat": m["iat"],
                "exp": m["exp"],
                "supersedes": m["supersedes"],
                "groups": _dumps(m["groups"]),
                "to": _dumps(m["to"]),
                "recipients": _dumps(b.recipients),
                "envelope": b.envelope,
                "envelope_sha256": b.envelope_sha256,
                "accepted_at": b.accepted_at,
                "log_index": b.log_index,
                "receipt": b.receipt,
            }
        )
        deliveries.extend(
            {
                "party": p,
                "seq": b.seq,
                "bid": m["bid"],
                "priority": m["priority"],
                "deadline": b.deadline,
            }
            for p in b.recipients
        )
    conn.execute(_INSERT_BULLETIN, rows)
    if deliveries:
        conn.execute(_INSERT_DELIVERY, deliveries)


def _insert_one(conn: Connection, fields: dict[str, Any]) -> int:
    seq = max_seq_txn(conn) + 1
    insert_bulletins_txn(conn, [NewBulletin(seq=seq, **fields)])
    return seq


async def insert_bulletin(
    conn: AsyncConnection,
    *,
    meta: dict[str, Any],
    client_id: str,
    kid: str,
    envelope: str,
    envelope_sha256: str,
    recipients: list[str],
    accepted_at: int,
    deadline: int | None,
) -> int:
    """Insert one bulletin and its deliveries; returns its ``seq``. The caller holds the
    log's lock (:func:`exchange.store.audit.lock_log`)."""
    fields = {
        "meta": meta,
        "client_id": client_id,
        "kid": kid,
        "envelope": envelope,
        "envelope_sha256": envelope_sha256,
        "recipients": recipients,
        "accepted_at": accepted_at,
        "deadline": deadline,
    }
    return await conn.run_sync(_insert_one, fields)


async def set_receipt(conn: AsyncConnection, seq: int, log_index: int, receipt: str) -> None:
    await conn.execute(
        update(s.bulletins)
        .where(s.bulletins.c.seq == seq)
        .values(log_index=log_index, receipt=receipt)
    )


async def inbox(conn: AsyncConnection, party: str, after: int, limit: int) -> list[dict[str, Any]]:
    """The party's items with ``seq > after`` in ``seq`` order (PROTOCOL §7)."""
    items, _more = await inbox_page(conn, party, after, limit, sys.maxsize, chunk=limit)
    return items


_INBOX_ROWS = (
    select(*ITEM_COLUMNS)
    .join(s.deliveries, s.deliveries.c.seq == s.bulletins.c.seq)
    .where(s.deliveries.c.party == bindparam("party"), s.deliveries.c.seq > bindparam("after"))
    .order_by(s.deliveries.c.seq)
    .limit(bindparam("n"))
)
# ``exchange inbox --unacknowledged``: deliveries no desk of the party has acked yet
# (``acked_at`` is kept by the trigger on ``acks``)
_INBOX_UNACKED_ROWS = _INBOX_ROWS.where(s.deliveries.c.acked_at.is_(None))


def inbox_rows_txn(
    conn: Connection,
    party: str,
    after: int,
    limit: int,
    max_bytes: int,
    *,
    chunk: int = 32,
    unacked: bool = False,
) -> tuple[list[Any], bool]:
    """The rows (:data:`ITEM_COLUMNS`) of one inbox page after ``after``: at most
    ``limit`` items whose envelopes total at most ``max_bytes`` (one item always fits),
    read ``chunk`` rows at a time. Returns the rows and whether more may follow.
    ``unacked`` keeps only the deliveries the party has not acknowledged."""
    query = _INBOX_UNACKED_ROWS if unacked else _INBOX_ROWS
    out: list[Any] = []
    size = 0
    while len(out) < limit:
        want = min(chunk, limit - len(out))
        batch = conn.execute(query, {"party": party, "after": after, "n": want}).all()
        for row in batch:
            n = len(row.envelope)
            if out and size + n > max_bytes:
                return out, True
            out.append(row)
            size += n
            after = row.seq
        if len(batch) < want:
            return out, False
    return out, True


def inbox_page_txn(
    conn: Connection,
    party: str,
    after: int,
    limit: int,
    max_bytes: int,
    *,
    chunk: int = 32,
    unacked: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """Like :func:`inbox`, but bounded in bytes as :func:`inbox_rows_txn` is: items
    carry whole envelopes of up to ``max_body`` each."""
    rows, more = inbox_rows_txn(conn, party, after, limit, max_bytes, chunk=chunk, unacked=unacked)
    return [item_of(r) for r in rows], more


async def inbox_page(
    conn: AsyncConnection,
    party: str,
    after: int,
    limit: int,
    max_bytes: int,
    *,
    chunk: int = 32,
) -> tuple[list[dict[str, Any]], bool]:
    return await conn.run_sync(
        lambda c: inbox_page_txn(c, party, after, limit, max_bytes, chunk=chunk)
    )


async def last_seq(conn: AsyncConnection, party: str, after: int) -> int | None:
    """The newest seq for ``party`` after ``after`` (to move a filtered stream's cursor)."""
    d = s.deliveries
    v = (
        await conn.execute(select(func.max(d.c.seq)).where(d.c.party == party, d.c.seq > after))
    ).scalar()
    return int(v) if v is not None else None


async def latest_seq(conn: AsyncConnection) -> int:
    """The newest accepted bulletin's seq (0 for none)."""
    return int((await conn.execute(select(func.max(s.bulletins.c.seq)))).scalar() or 0)


async def pending_count(conn: AsyncConnection) -> int:
    """Deliveries not yet pushed or fetched (a gauge for operators)."""
    d = s.deliveries
    return int(
        (await conn.execute(select(func.count()).where(d.c.delivered_at.is_(None)))).scalar() or 0
    )


_MARK_DELIVERED = (
    update(s.deliveries)
    .where(
        s.deliveries.c.party == bindparam("p"),
        s.deliveries.c.seq == bindparam("s"),
        s.deliveries.c.delivered_at.is_(None),
    )
    .values(delivered_at=bindparam("at"))
)


_MARK_RANGE = (
    update(s.deliveries)
    .where(
        s.deliveries.c.party == bindparam("p"),
        s.deliveries.c.seq >= bindparam("lo"),
        s.deliveries.c.seq <= bindparam("hi"),
        s.deliveries.c.delivered_at.is_(None),
    )
    .values(delivered_at=bindparam("at"))
)


def mark_delivered_txn(
    conn: Connection,
    marks: dict[str, list[int]],
    now: int,
    ranges: Sequence[tuple[str, int, int]] = (),
) -> None:
    """First push or fetch of each (party, seq), and of every delivery of a party with
    ``lo <= seq <= hi`` for each (party, lo, hi) in ``ranges`` (a catch-up page sent
    whole): prebuilt statements, executemany."""
    rows = [{"p": party, "s": seq, "at": now} for party, seqs in marks.items() for seq in seqs]
    if rows:
        conn.execute(_MARK_DELIVERED, rows)
    if ranges:
        conn.execute(_MARK_RANGE, [{"p": p, "lo": lo, "hi": hi, "at": now} for p, lo, hi in ranges])


async def delivery_of(conn: AsyncConnection, bid: str, party: str) -> Any:
    d = s.deliveries
    return (await conn.execute(select(d).where(d.c.bid == bid, d.c.party == party))).first()


async def deliveries_of(conn: AsyncConnection, bid: str) -> list[Any]:
    d = s.deliveries
    return list((await conn.execute(select(d).where(d.c.bid == bid).order_by(d.c.party))).all())


@dataclass(frozen=True)
class AckRow:
    bid: str
    party: str
    status: str
    client_id: str
    iat: int
    received_at: int
    jws: str
    log_index: int


async def ack_row(conn: AsyncConnection, bid: str, party: str, status: str) -> AckRow | None:
    a = s.acks
    row = (
        await conn.execute(
            select(a).where(a.c.bid == bid, a.c.party == party, a.c.status == status)
        )
    ).first()
    return AckRow(**row._mapping) if row else None


async def insert_ack(conn: AsyncConnection, ack: AckRow) -> bool:
    """False when this (bid, party, status) was already acked."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(s.acks).values(**ack.__dict__))
    except IntegrityError:
        return False
    return True


async def acks_of(conn: AsyncConnection, bid: str) -> list[AckRow]:
    a = s.acks
    rows = (await conn.execute(select(a).where(a.c.bid == bid).order_by(a.c.received_at))).all()
    return [AckRow(**r._mapping) for r in rows]


async def overdue(conn: AsyncConnection, now: int, limit: int = 500) -> list[Any]:
    """Deliveries past their ack deadline, not yet escalated, with no ack at all."""
    d, a, b = s.deliveries, s.acks, s.bulletins
    q = (
        select(d.c.party, d.c.seq, d.c.bid, d.c.priority, d.c.deadline, b.c.iss)
        .join(b, b.c.seq == d.c.seq)
        .where(
            d.c.deadline.is_not(None),
            d.c.deadline < now,
            d.c.escalated_at.is_(None),
            ~exists().where(and_(a.c.bid == d.c.bid, a.c.party == d.c.party)),
        )
        .limit(limit)
    )
    return list((await conn.execute(q)).all())


async def set_escalated(conn: AsyncConnection, party: str, seq: int, now: int) -> bool:
    """Mark one delivery escalated; False when another node (or round) already did."""
    d = s.deliveries
    result = await conn.execute(
        update(d)
        .where(d.c.party == party, d.c.seq == seq, d.c.escalated_at.is_(None))
        .values(escalated_at=now)
    )
    return bool(result.rowcount)
