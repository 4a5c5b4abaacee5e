"""A party's sent bulletins with their ledger in numbers (``GET /v1/sent``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, select

from exchange.store import schema as s

__all__ = ["sent_page"]


def sent_page(
    conn: Connection, party: str, after: int, limit: int, now_ms: int
) -> list[dict[str, Any]]:
    """Bulletins ``party`` posted after ``after`` (oldest first), each with how many
    recipient parties it had, how many acknowledged it, and how many are overdue."""
    b, d, a = s.bulletins, s.deliveries, s.acks
    acked = exists().where(and_(a.c.bid == d.c.bid, a.c.party == d.c.party))
    overdue = and_(d.c.deadline.is_not(None), d.c.deadline < now_ms, ~acked)
    counts = (
        select(
            d.c.bid.label("bid"),
            func.count().label("recipients"),
            func.sum(case((acked, 1), else_=0)).label("acknowledged"),
            func.sum(case((overdue, 1), else_=0)).label("overdue"),
        )
        .group_by(d.c.bid)
        .subquery()
    )
    q = (
        select(
            b.c.seq,
            b.c.bid,
            b.c.type,
            b.c.priority,
            b.c.tlp,
            b.c.iat,
            b.c.accepted_at,
            b.c.client_id,
            counts.c.recipients,
            counts.c.acknowledged,
            counts.c.overdue,
        )
        .outerjoin(counts, counts.c.bid == b.c.bid)
        .where(b.c.iss == party, b.c.seq > after)
        .order_by(b.c.seq)
        .limit(limit)
    )
    return [
        {
            "seq": int(r.seq),
            "bid": r.bid,
            "type": r.type,
            "priority": r.priority,
            "tlp": r.tlp,
            "iat": int(r.iat),
            "accepted_at": int(r.accepted_at),
            "client_id": r.client_id,
            "recipients": int(r.recipients or 0),
            "acknowledged": int(r.acknowledged or 0),
            "overdue": int(r.overdue or 0),
        }
        for r in conn.execute(q).all()
    ]
