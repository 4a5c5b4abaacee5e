"""Queries for a party's deliveries: inbox pages (REST and stream alike), delivery
marks, and the per-party rows of one bulletin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from exchange.store import report_days
from exchange.store import schema as s
from exchange.store.bulletins import ITEM_COLUMNS, item_of

__all__ = ["deliveries_of", "delivery_of", "inbox_page", "inbox_rows", "mark_delivered"]

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


def inbox_rows(
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


def inbox_page(
    conn: Connection,
    party: str,
    after: int,
    limit: int,
    max_bytes: int,
    *,
    chunk: int = 32,
    unacked: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """The items (PROTOCOL §7) of :func:`inbox_rows`: the REST inbox's page; the stream
    reads the rows and encodes them itself."""
    rows, more = inbox_rows(conn, party, after, limit, max_bytes, chunk=chunk, unacked=unacked)
    return [item_of(r) for r in rows], more


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


def mark_delivered(
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
    report_days.mark_delivered_days(conn, [q for seqs in marks.values() for q in seqs], ranges)


def delivery_of(conn: Connection, bid: str, party: str) -> Any:
    d = s.deliveries
    return conn.execute(select(d).where(d.c.bid == bid, d.c.party == party)).first()


def deliveries_of(conn: Connection, bid: str) -> list[Any]:
    d = s.deliveries
    return list(conn.execute(select(d).where(d.c.bid == bid).order_by(d.c.party)).all())
