"""What to queue: each accepted bulletin's alerts (fan-out) and each escalation's.

The fan-out follows the bulletins table by ``seq`` from a cursor kept in the database,
so a bulletin accepted while no node was running alerts is still alerted on, and the
admission path is untouched. Escalations are queued in the escalation's transaction."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from exchange.store import alerts as astore
from exchange.store.schema import bulletins
from exchange.vocab import meets_min_priority

__all__ = ["EVENTS", "backoff", "enqueue_escalations_txn", "fanout_txn", "matches"]

#: what an endpoint may ask to be told of
EVENTS = ("bulletin", "escalation")

_RNG = random.Random()  # noqa: S311 - retry jitter, not a secret

#: bulletins queued per fan-out transaction
FANOUT_BATCH = 500


def matches(ep: astore.Endpoint, event: str, info: dict[str, Any]) -> bool:
    """The endpoint's filter: its events, its types, its minimum priority."""
    if event not in ep.events:
        return False
    if ep.types is not None and info["type"] not in ep.types:
        return False
    return meets_min_priority(info["priority"], ep.min_priority)


def backoff(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before try ``attempts + 1``: exponential, capped, with "equal jitter"
    (half fixed, half random), so endpoints that failed together do not retry together."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    jitter = (rng or _RNG).uniform(0, delay / 2)
    return delay / 2 + jitter


def _by_party(endpoints: Iterable[astore.Endpoint]) -> dict[str, list[astore.Endpoint]]:
    out: dict[str, list[astore.Endpoint]] = {}
    for ep in endpoints:
        out.setdefault(ep.party, []).append(ep)
    return out


def fanout_txn(conn: Connection, now: int, queue_max: int) -> int:
    """Queue the alerts of (up to a batch of) bulletins accepted since the cursor, and
    move it. The first run starts at the newest bulletin (no alerts for history).
    Returns the cursor reached."""
    cursor = astore.cursor(conn, lock=True)
    if cursor is None:
        newest = astore.max_seq(conn)
        astore.set_cursor(conn, newest, new=True)
        return newest
    items = astore.bulletins_after(conn, cursor, FANOUT_BATCH)
    if not items:
        return cursor
    parties = _by_party(astore.endpoints(conn))
    rows: list[astore.NewDelivery] = []
    for item in items:
        info = {k: item[k] for k in ("bid", "sender", "type", "priority", "tlp", "seq")}
        for party in item["recipients"]:
            for ep in parties.get(party, ()):
                if matches(ep, "bulletin", info):
                    rows.append(
                        astore.NewDelivery(ep.id, "bulletin", item["seq"], "", _nonce(), info)
                    )
    astore.insert_deliveries(conn, rows, now, queue_max)
    astore.set_cursor(conn, items[-1]["seq"])
    return int(items[-1]["seq"])


def enqueue_escalations_txn(
    conn: Connection, overdue: Sequence[Any], now: int, queue_max: int
) -> int:
    """Queue the sender's alerts for each newly escalated delivery (rows of
    ``bulletins.overdue``: party, seq, bid, priority, deadline, iss), once each."""
    if not overdue:
        return 0
    b = bulletins.c
    seqs = sorted({r.seq for r in overdue})
    meta = {r.seq: r for r in conn.execute(select(b.seq, b.type, b.tlp).where(b.seq.in_(seqs)))}
    parties = _by_party(astore.endpoints(conn))
    rows: list[astore.NewDelivery] = []
    for r in overdue:
        m = meta.get(r.seq)
        if m is None:
            continue
        info = {
            "bid": r.bid,
            "sender": r.iss,
            "type": m.type,
            "priority": r.priority,
            "tlp": m.tlp,
            "seq": r.seq,
            "overdue": r.party,
            "deadline": r.deadline,
        }
        for ep in parties.get(r.iss, ()):
            if matches(ep, "escalation", info):
                rows.append(astore.NewDelivery(ep.id, "escalation", r.seq, r.party, _nonce(), info))
    return astore.insert_deliveries(conn, rows, now, queue_max)


def _nonce() -> str:
    return str(uuid.uuid4())
