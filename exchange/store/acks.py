"""Queries for acks (PROTOCOL §7) and the deadlines they answer (escalations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange.store import schema as s

__all__ = ["AckRow", "ack_row", "acks_of", "insert_ack", "overdue", "set_escalated"]


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


def ack_row(conn: Connection, bid: str, party: str, status: str) -> AckRow | None:
    a = s.acks
    row = conn.execute(
        select(a).where(a.c.bid == bid, a.c.party == party, a.c.status == status)
    ).first()
    return AckRow(**row._mapping) if row else None


def insert_ack(conn: Connection, ack: AckRow) -> bool:
    """False when this (bid, party, status) was already acked."""
    try:
        with conn.begin_nested():
            conn.execute(insert(s.acks).values(**ack.__dict__))
    except IntegrityError:
        return False
    return True


def acks_of(conn: Connection, bid: str) -> list[AckRow]:
    a = s.acks
    rows = conn.execute(select(a).where(a.c.bid == bid).order_by(a.c.received_at)).all()
    return [AckRow(**r._mapping) for r in rows]


def overdue(conn: Connection, now: int, limit: int = 500) -> list[Any]:
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
    return list(conn.execute(q).all())


def set_escalated(conn: Connection, party: str, seq: int, now: int) -> bool:
    """Mark one delivery escalated; False when another node (or round) already did."""
    d = s.deliveries
    result = conn.execute(
        update(d)
        .where(d.c.party == party, d.c.seq == seq, d.c.escalated_at.is_(None))
        .values(escalated_at=now)
    )
    return bool(result.rowcount)
