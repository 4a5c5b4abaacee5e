"""Suspending, resuming and removing directory entries (parties, clients, groups).

A suspended party or client is refused at authentication; everything addressed to it is
still accepted and kept, so a resumed party reads all it missed. Removal is final: a
removed party leaves every group, its keys are revoked and its deliveries not yet
acknowledged stop counting as overdue; its rows stay, so the log and the bulletins it
sent keep their meaning. A removed group loses its members and subscriptions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, select, update

from exchange.errors import Conflict, NotFound
from exchange.store import schema as s
from exchange.store.parties import ClientRow, client_by_id

__all__ = [
    "party_status",
    "pending_deliveries",
    "remove_group",
    "remove_party",
    "set_client_status",
    "set_party_status",
]


def party_status(conn: Connection, party: str) -> str:
    row = conn.execute(select(s.parties.c.status).where(s.parties.c.id == party)).first()
    if row is None:
        raise NotFound(f"party {party} does not exist")
    return str(row[0])


def set_party_status(conn: Connection, party: str, status: str) -> None:
    """``active`` <-> ``suspended``; a removed party stays removed."""
    old = party_status(conn, party)
    if old == "removed":
        raise Conflict(f"party {party} was removed; removal is final")
    if old == status:
        raise Conflict(f"party {party} is already {status}")
    conn.execute(update(s.parties).where(s.parties.c.id == party).values(status=status))


def set_client_status(conn: Connection, client_id: str, status: str) -> ClientRow:
    """``active`` <-> ``suspended``, or ``revoked`` (final). Returns the row as it was."""
    client = client_by_id(conn, client_id)
    if client is None:
        raise NotFound(f"client {client_id} does not exist")
    if client.status == "revoked":
        raise Conflict(f"client {client_id} was removed (its key revoked); removal is final")
    if client.status == status:
        raise Conflict(f"client {client_id} is already {status}")
    if "admin" in client.roles and status != "active" and _other_admins(conn, client_id) == 0:
        raise Conflict("this is the last active admin client: register another one first")
    c = s.clients
    conn.execute(update(c).where(c.c.id == client_id).values(status=status))
    return client


def _other_admins(conn: Connection, client_id: str) -> int:
    c = s.clients
    rows = (
        conn.execute(select(c.c.roles).where(c.c.status == "active", c.c.id != client_id))
    ).all()
    return sum(1 for r in rows if "admin" in r.roles.split(","))


def _unacknowledged(party: str) -> Any:
    d, a = s.deliveries, s.acks
    acked = exists().where(and_(a.c.bid == d.c.bid, a.c.party == d.c.party))
    return and_(d.c.party == party, ~acked)


def pending_deliveries(conn: Connection, party: str) -> int:
    """Bulletins delivered or waiting for ``party`` that it has not acknowledged."""
    d = s.deliveries
    q = select(func.count()).select_from(d).where(_unacknowledged(party))
    return int(conn.execute(q).scalar() or 0)


def _ids(conn: Connection, query: Any) -> list[str]:
    return sorted(str(v) for v in conn.execute(query).scalars())


def remove_party(conn: Connection, party: str, *, operator: str) -> dict[str, Any]:
    """Take ``party`` out of the exchange for good. Returns what changed, for the log."""
    if party == operator:
        raise Conflict("the exchange operator's own party cannot be removed")
    if party_status(conn, party) == "removed":
        raise Conflict(f"party {party} was already removed")
    c, k, m, sub, d = s.clients, s.enc_keys, s.memberships, s.subscriptions, s.deliveries
    clients = _ids(conn, select(c.c.id).where(c.c.party == party, c.c.status != "revoked"))
    keys = _ids(conn, select(k.c.kid).where(k.c.party == party, k.c.status != "revoked"))
    groups = _ids(conn, select(m.c.group_id).where(m.c.party == party))
    pending = pending_deliveries(conn, party)
    conn.execute(update(c).where(c.c.party == party).values(status="revoked"))
    conn.execute(update(k).where(k.c.party == party).values(status="revoked"))
    conn.execute(delete(m).where(m.c.party == party))
    subs = conn.execute(delete(sub).where(sub.c.source == party)).rowcount
    # PROTOCOL §7 ledger: nobody will acknowledge these now; they are no longer overdue
    conn.execute(update(d).where(_unacknowledged(party)).values(deadline=None))
    conn.execute(update(s.parties).where(s.parties.c.id == party).values(status="removed"))
    return {
        "clients_revoked": clients,
        "keys_revoked": keys,
        "groups_left": groups,
        "subscriptions_removed": int(subs or 0),
        "pending_deliveries": pending,
    }


def remove_group(conn: Connection, group: str) -> dict[str, Any]:
    """Delete ``group`` with its memberships and subscriptions. Bulletins already sent to
    it keep their recipients; the id may be used again for a new group."""
    g, m, sub = s.groups, s.memberships, s.subscriptions
    if conn.execute(select(g.c.id).where(g.c.id == group)).first() is None:
        raise NotFound(f"group {group} does not exist")
    members = conn.execute(delete(m).where(m.c.group_id == group)).rowcount
    subs = conn.execute(delete(sub).where(sub.c.group_id == group)).rowcount
    conn.execute(delete(g).where(g.c.id == group))
    return {"members_removed": int(members or 0), "subscriptions_removed": int(subs or 0)}
