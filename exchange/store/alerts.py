"""Alert endpoints and the durable outbox of pushes and mails (docs/alerts.md).

Every function is one synchronous piece of a transaction, run through ``run_read`` /
``run_write``. Claims take a lease on a row inside the write transaction (PostgreSQL:
``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE`` serialises writers), so with
several nodes each delivery is attempted by one node at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from exchange.store.schema import alert_endpoints, alert_outbox, alert_state, bulletins, parties

__all__ = [
    "Claimed",
    "Endpoint",
    "NewDelivery",
    "add_endpoint",
    "bulletins_after",
    "claim",
    "count_endpoints",
    "cursor",
    "deliveries",
    "endpoint",
    "endpoints",
    "envelope",
    "finish",
    "insert_deliveries",
    "max_seq",
    "next_due",
    "party_exists",
    "redeliver",
    "remove_endpoint",
    "retry",
    "set_cursor",
]

E = alert_endpoints
O = alert_outbox  # noqa: E741 - the table, as E is the other


@dataclass(frozen=True)
class Endpoint:
    id: str
    party: str
    kind: str
    target: str
    mode: str | None
    events: tuple[str, ...]
    types: tuple[str, ...] | None
    min_priority: str | None
    status: str
    created_by: str
    created_at: int

    def view(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(events=list(self.events), types=None if self.types is None else list(self.types))
        return out


def _endpoint(r: Any) -> Endpoint:
    return Endpoint(
        id=r.id,
        party=r.party,
        kind=r.kind,
        target=r.target,
        mode=r.mode,
        events=tuple(r.events.split(",")),
        types=None if r.types is None else tuple(json.loads(r.types)),
        min_priority=r.min_priority,
        status=r.status,
        created_by=r.created_by,
        created_at=r.created_at,
    )


def add_endpoint(conn: Connection, ep: Endpoint) -> None:
    conn.execute(
        insert(E).values(
            id=ep.id,
            party=ep.party,
            kind=ep.kind,
            target=ep.target,
            mode=ep.mode,
            events=",".join(ep.events),
            types=None if ep.types is None else json.dumps(list(ep.types)),
            min_priority=ep.min_priority,
            status=ep.status,
            created_by=ep.created_by,
            created_at=ep.created_at,
        )
    )


def party_exists(conn: Connection, party: str) -> bool:
    return conn.execute(select(parties.c.id).where(parties.c.id == party)).first() is not None


def count_endpoints(conn: Connection, party: str) -> int:
    q = select(func.count()).where(E.c.party == party, E.c.status == "active")
    return int(conn.execute(q).scalar_one())


def endpoint(conn: Connection, endpoint_id: str) -> Endpoint | None:
    row = conn.execute(select(E).where(E.c.id == endpoint_id)).first()
    return None if row is None else _endpoint(row)


def endpoints(conn: Connection, party: str | None = None) -> list[Endpoint]:
    q = select(E).where(E.c.status == "active").order_by(E.c.party, E.c.created_at, E.c.id)
    if party is not None:
        q = q.where(E.c.party == party)
    return [_endpoint(r) for r in conn.execute(q)]


def remove_endpoint(conn: Connection, endpoint_id: str, now: int) -> int:
    """Mark the endpoint removed and cancel what it still had queued."""
    conn.execute(update(E).where(E.c.id == endpoint_id).values(status="removed"))
    res = conn.execute(
        update(O)
        .where(O.c.endpoint_id == endpoint_id, O.c.state == "pending")
        .values(state="cancelled", done_at=now, lease_until=None)
    )
    return int(res.rowcount or 0)


# --- fan-out ----------------------------------------------------------------------------


def max_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(bulletins.c.seq), 0))).scalar_one())


def cursor(conn: Connection, *, lock: bool = False) -> int | None:
    q = select(alert_state.c.seq).where(alert_state.c.id == 1)
    if lock:  # PostgreSQL: two nodes fanning out take turns
        q = q.with_for_update()
    value = conn.execute(q).scalar()
    return None if value is None else int(value)


def set_cursor(conn: Connection, seq: int, *, new: bool = False) -> None:
    if new:
        conn.execute(insert(alert_state).values(id=1, seq=seq))
    else:
        conn.execute(update(alert_state).where(alert_state.c.id == 1).values(seq=seq))


def bulletins_after(conn: Connection, after: int, limit: int) -> list[dict[str, Any]]:
    b = bulletins.c
    q = (
        select(b.seq, b.bid, b.iss, b.type, b.priority, b.tlp, b.recipients)
        .where(b.seq > after)
        .order_by(b.seq)
        .limit(limit)
    )
    return [
        {
            "seq": r.seq,
            "bid": r.bid,
            "sender": r.iss,
            "type": r.type,
            "priority": r.priority,
            "tlp": r.tlp,
            "recipients": json.loads(r.recipients),
        }
        for r in conn.execute(q)
    ]


@dataclass(frozen=True)
class NewDelivery:
    endpoint_id: str
    event: str
    seq: int
    subject: str
    nonce: str
    info: dict[str, Any]


def insert_deliveries(
    conn: Connection, rows: Sequence[NewDelivery], now: int, queue_max: int
) -> int:
    """Queue ``rows``; an endpoint with ``queue_max`` pending deliveries gets the rest
    dead-lettered at once (kept, and redeliverable). A row already queued is skipped."""
    if not rows:
        return 0
    ids = sorted({r.endpoint_id for r in rows})
    pending: dict[str, int] = dict(
        conn.execute(
            select(O.c.endpoint_id, func.count())
            .where(O.c.endpoint_id.in_(ids), O.c.state == "pending")
            .group_by(O.c.endpoint_id)
        ).all()
    )
    keys = {(r.endpoint_id, r.event, r.seq, r.subject) for r in rows}
    existing = {
        (e, ev, s, sub)
        for e, ev, s, sub in conn.execute(
            select(O.c.endpoint_id, O.c.event, O.c.seq, O.c.subject).where(
                O.c.endpoint_id.in_(ids), O.c.seq.in_(sorted({k[2] for k in keys}))
            )
        )
    }
    values = []
    for r in rows:
        if (r.endpoint_id, r.event, r.seq, r.subject) in existing:
            continue
        n = pending.get(r.endpoint_id, 0)
        full = n >= queue_max
        pending[r.endpoint_id] = n + (0 if full else 1)
        values.append(
            {
                "endpoint_id": r.endpoint_id,
                "event": r.event,
                "seq": r.seq,
                "subject": r.subject,
                "nonce": r.nonce,
                "info": json.dumps(r.info, sort_keys=True),
                "state": "dead" if full else "pending",
                "attempts": 0,
                "next_at": now,
                "lease_until": None,
                "lease_owner": None,
                "last_error": "queue full" if full else None,
                "created_at": now,
                "done_at": now if full else None,
            }
        )
    if values:
        conn.execute(insert(O), values)
    return len(values)


# --- claims and outcomes ----------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint: Endpoint
    event: str
    seq: int
    subject: str
    nonce: str
    info: dict[str, Any]
    attempts: int


def next_due(conn: Connection) -> int | None:
    """When the earliest pending delivery is due (ms), or None: lets an idle node skip
    the write transaction of a claim."""
    q = select(func.min(O.c.next_at)).where(O.c.state == "pending")
    value = conn.execute(q).scalar()
    return None if value is None else int(value)


def claim(conn: Connection, now: int, owner: str, lease_ms: int, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, each the oldest pending one of its endpoint
    (per-endpoint order: the next waits until this one is done or dead)."""
    heads = (
        select(func.min(O.c.id)).where(O.c.state == "pending").group_by(O.c.endpoint_id)
    ).scalar_subquery()
    q = (
        select(O)
        .join(E, E.c.id == O.c.endpoint_id)
        .where(
            O.c.id.in_(heads),
            O.c.next_at <= now,
            or_(O.c.lease_until.is_(None), O.c.lease_until < now),
            E.c.status == "active",
        )
        .order_by(O.c.next_at, O.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=O)
    )
    rows = conn.execute(q).all()
    if not rows:
        return []
    eps = {
        r.id: _endpoint(r)
        for r in conn.execute(select(E).where(E.c.id.in_(sorted({r.endpoint_id for r in rows}))))
    }
    out: list[Claimed] = []
    for r in rows:
        res = conn.execute(
            update(O)
            .where(
                O.c.id == r.id,
                O.c.state == "pending",
                or_(O.c.lease_until.is_(None), O.c.lease_until < now),
            )
            .values(lease_until=now + lease_ms, lease_owner=owner)
        )
        if res.rowcount == 1:
            ep = eps[r.endpoint_id]
            info = json.loads(r.info)
            out.append(Claimed(r.id, ep, r.event, r.seq, r.subject, r.nonce, info, r.attempts))
    return out


def envelope(conn: Connection, seq: int) -> str | None:
    return conn.execute(select(bulletins.c.envelope).where(bulletins.c.seq == seq)).scalar()


def finish(conn: Connection, delivery_id: int, owner: str, now: int) -> bool:
    """The delivery succeeded. False when this node's lease was lost meanwhile (another
    node may then send it again: at least once)."""
    res = conn.execute(
        update(O)
        .where(O.c.id == delivery_id, O.c.state == "pending", O.c.lease_owner == owner)
        .values(
            state="done",
            attempts=O.c.attempts + 1,
            done_at=now,
            lease_until=None,
            last_error=None,
        )
    )
    return res.rowcount == 1


def retry(
    conn: Connection, delivery_id: int, owner: str, now: int, next_at: int | None, error: str
) -> None:
    """A failed try: due again at ``next_at``, or dead-lettered when it is None."""
    values: dict[str, Any] = {
        "attempts": O.c.attempts + 1,
        "lease_until": None,
        "last_error": error[:200],
    }
    if next_at is None:
        values.update(state="dead", done_at=now)
    else:
        values["next_at"] = next_at
    conn.execute(
        update(O)
        .where(O.c.id == delivery_id, O.c.state == "pending", O.c.lease_owner == owner)
        .values(**values)
    )


def deliveries(
    conn: Connection, endpoint_id: str, state: str | None, limit: int
) -> list[dict[str, Any]]:
    q = select(O).where(O.c.endpoint_id == endpoint_id).order_by(O.c.id.desc()).limit(limit)
    if state is not None:
        q = q.where(O.c.state == state)
    return [
        {
            "id": r.id,
            "nonce": r.nonce,
            "event": r.event,
            "seq": r.seq,
            "subject": r.subject or None,
            "bid": json.loads(r.info).get("bid"),
            "state": r.state,
            "attempts": r.attempts,
            "next_at": r.next_at,
            "last_error": r.last_error,
            "created_at": r.created_at,
            "done_at": r.done_at,
        }
        for r in conn.execute(q)
    ]


def redeliver(conn: Connection, endpoint_id: str, ids: Iterable[int] | None, now: int) -> int:
    """Dead deliveries (all, or those of ``ids``) become pending again, due now, with a
    fresh count of tries."""
    cond = and_(O.c.endpoint_id == endpoint_id, O.c.state == "dead")
    if ids is not None:
        cond = and_(cond, O.c.id.in_(sorted(ids)))
    res = conn.execute(
        update(O)
        .where(cond)
        .values(
            state="pending",
            attempts=0,
            next_at=now,
            lease_until=None,
            lease_owner=None,
            done_at=None,
        )
    )
    return int(res.rowcount or 0)
