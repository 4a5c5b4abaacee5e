"""Queries for bulletins as admission writes them and readers look them up by bid."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from exchange.bulletin import item as inbox_item
from exchange.store import schema as s

__all__ = [
    "ITEM_COLUMNS",
    "NewBulletin",
    "StoredBulletin",
    "by_bid",
    "by_bids",
    "insert_bulletins",
    "item_of",
    "max_seq",
    "pending_count",
    "set_receipts",
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
    """An inbox item (PROTOCOL §7) read back from a row of :data:`ITEM_COLUMNS`."""
    return inbox_item.from_row(row)


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


def by_bid(conn: Connection, bid: str) -> StoredBulletin | None:
    row = conn.execute(_BY_BID, {"bid": bid}).first()
    return _stored(row) if row else None


def by_bids(conn: Connection, bids: list[str]) -> dict[str, StoredBulletin]:
    """The stored bulletins among ``bids`` (one query for a whole batch)."""
    rows = conn.execute(select(s.bulletins).where(s.bulletins.c.bid.in_(bids))).all()
    return {r.bid: _stored(r) for r in rows}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def max_seq(conn: Connection) -> int:
    """The newest ``seq`` (0 for none). Admission draws the next ones itself, under the
    log's lock, so a batch can be written in one statement with its receipts (which name
    the ``seq``) and commit order stays ``seq`` order (ADR 0005). Also the gauge of
    the newest accepted bulletin."""
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
        return inbox_item.from_meta(self.seq, self.meta, self.envelope)


def insert_bulletins(conn: Connection, batch: list[NewBulletin]) -> None:
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


_SET_RECEIPT = (
    update(s.bulletins)
    .where(s.bulletins.c.bid == bindparam("b_bid"), s.bulletins.c.receipt == "")
    .values(receipt=bindparam("b_receipt"))
)


def set_receipts(conn: Connection, receipts: dict[str, str]) -> dict[str, str]:
    """Store receipts where none is stored yet (``""``: admitted, not yet receipted),
    and return the stored receipt of each bid: a receipt once stored is never replaced
    (service/receipts.py)."""
    conn.execute(_SET_RECEIPT, [{"b_bid": b, "b_receipt": r} for b, r in receipts.items()])
    rows = conn.execute(
        select(s.bulletins.c.bid, s.bulletins.c.receipt).where(
            s.bulletins.c.bid.in_(list(receipts))
        )
    ).all()
    return {r.bid: r.receipt for r in rows}


def pending_count(conn: Connection) -> int:
    """Deliveries not yet pushed or fetched (a gauge for operators)."""
    d = s.deliveries
    return int(conn.execute(select(func.count()).where(d.c.delivered_at.is_(None))).scalar() or 0)
