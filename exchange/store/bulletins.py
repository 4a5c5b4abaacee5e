"""Queries for bulletins, their per-party deliveries, and acks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.store import schema as s

__all__ = [
    "AckRow",
    "StoredBulletin",
    "ack_row",
    "acks_of",
    "by_bid",
    "deliveries_of",
    "delivery_of",
    "inbox",
    "inbox_page",
    "insert_ack",
    "insert_bulletin",
    "latest_seq",
    "mark_delivered",
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


async def by_bid(conn: AsyncConnection, bid: str) -> StoredBulletin | None:
    row = (await conn.execute(select(s.bulletins).where(s.bulletins.c.bid == bid))).first()
    return _stored(row) if row else None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


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
    """Insert a bulletin and its deliveries; returns its ``seq``. Raises IntegrityError
    when the bid is already used (a concurrent post of the same bid)."""
    seq = (
        await conn.execute(
            insert(s.bulletins)
            .values(
                bid=meta["bid"],
                iss=meta["iss"],
                client_id=client_id,
                kid=kid,
                type=meta["type"],
                priority=meta["priority"],
                tlp=meta["tlp"],
                iat=meta["iat"],
                exp=meta["exp"],
                supersedes=meta["supersedes"],
                groups=_dumps(meta["groups"]),
                to=_dumps(meta["to"]),
                recipients=_dumps(recipients),
                envelope=envelope,
                envelope_sha256=envelope_sha256,
                accepted_at=accepted_at,
                log_index=-1,
                receipt="",
            )
            .returning(s.bulletins.c.seq)
        )
    ).scalar_one()
    await conn.execute(
        insert(s.deliveries),
        [
            {
                "party": p,
                "seq": seq,
                "bid": meta["bid"],
                "priority": meta["priority"],
                "deadline": deadline,
            }
            for p in recipients
        ],
    )
    return int(seq)


async def set_receipt(conn: AsyncConnection, seq: int, log_index: int, receipt: str) -> None:
    await conn.execute(
        update(s.bulletins)
        .where(s.bulletins.c.seq == seq)
        .values(log_index=log_index, receipt=receipt)
    )


async def inbox(
    conn: AsyncConnection,
    party: str,
    after: int,
    limit: int,
    *,
    types: frozenset[str] | None = None,
    priorities: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """The party's items with ``seq > after`` in ``seq`` order (PROTOCOL §7)."""
    d = s.deliveries
    q = (
        select(*ITEM_COLUMNS)
        .join(d, d.c.seq == s.bulletins.c.seq)
        .where(d.c.party == party, d.c.seq > after)
    )
    if types is not None:
        q = q.where(s.bulletins.c.type.in_(sorted(types)))
    if priorities is not None:
        q = q.where(s.bulletins.c.priority.in_(sorted(priorities)))
    rows = (await conn.execute(q.order_by(d.c.seq).limit(limit))).all()
    return [item_of(r) for r in rows]


async def inbox_page(
    conn: AsyncConnection,
    party: str,
    after: int,
    limit: int,
    max_bytes: int,
    *,
    chunk: int = 32,
) -> tuple[list[dict[str, Any]], bool]:
    """Like :func:`inbox`, but the envelopes of one page total at most ``max_bytes``
    (one item always fits): items carry whole envelopes of up to ``max_body`` each.
    Read ``chunk`` rows at a time; returns the items and whether more may follow."""
    out: list[dict[str, Any]] = []
    size = 0
    while len(out) < limit:
        want = min(chunk, limit - len(out))
        batch = await inbox(conn, party, after, want)
        for item in batch:
            n = len(item["envelope"])
            if out and size + n > max_bytes:
                return out, True
            out.append(item)
            size += n
            after = item["seq"]
        if len(batch) < want:
            return out, False
    return out, True


async def last_seq(conn: AsyncConnection, party: str, after: int) -> int | None:
    """The newest seq for ``party`` after ``after`` (to move a filtered stream's cursor)."""
    d = s.deliveries
    from sqlalchemy import func

    v = (
        await conn.execute(select(func.max(d.c.seq)).where(d.c.party == party, d.c.seq > after))
    ).scalar()
    return int(v) if v is not None else None


async def latest_seq(conn: AsyncConnection) -> int:
    """The newest accepted bulletin's seq (0 for none)."""
    from sqlalchemy import func

    return int((await conn.execute(select(func.max(s.bulletins.c.seq)))).scalar() or 0)


async def pending_count(conn: AsyncConnection) -> int:
    """Deliveries not yet pushed or fetched (a gauge for operators)."""
    from sqlalchemy import func

    d = s.deliveries
    return int(
        (await conn.execute(select(func.count()).where(d.c.delivered_at.is_(None)))).scalar() or 0
    )


async def mark_delivered(conn: AsyncConnection, marks: dict[str, list[int]], now: int) -> None:
    d = s.deliveries
    for party, seqs in marks.items():
        await conn.execute(
            update(d)
            .where(d.c.party == party, d.c.seq.in_(seqs), d.c.delivered_at.is_(None))
            .values(delivered_at=now)
        )


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
