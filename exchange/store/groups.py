"""Queries for groups, their memberships and their subscriptions to sources."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from exchange.errors import NotFound
from exchange.store import schema as s
from exchange.store.parties import dumps, insert_unique, party_exists

__all__ = [
    "add_group",
    "delete_subscription",
    "group_exists",
    "member_role",
    "put_subscription",
    "remove_member",
    "set_member",
    "sub_dict",
    "subscriptions_of",
]


def group_exists(conn: Connection, gid: str) -> bool:
    return conn.execute(select(s.groups.c.id).where(s.groups.c.id == gid)).first() is not None


def add_group(conn: Connection, *, id: str, name: str, now: int) -> None:
    insert_unique(conn, insert(s.groups).values(id=id, name=name, created_at=now), f"group {id}")


def set_member(conn: Connection, *, group: str, party: str, role: str) -> None:
    if not group_exists(conn, group):
        raise NotFound(f"group {group} does not exist")
    if not party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    m = s.memberships
    res = conn.execute(update(m).where(m.c.group_id == group, m.c.party == party).values(role=role))
    if res.rowcount == 0:
        conn.execute(insert(m).values(group_id=group, party=party, role=role))


def member_role(conn: Connection, group: str, party: str) -> str | None:
    m = s.memberships
    role = conn.execute(select(m.c.role).where(m.c.group_id == group, m.c.party == party)).scalar()
    return str(role) if role is not None else None


def remove_member(conn: Connection, *, group: str, party: str) -> None:
    m = s.memberships
    res = conn.execute(delete(m).where(m.c.group_id == group, m.c.party == party))
    if res.rowcount == 0:
        raise NotFound(f"{party} is not a member of {group}")


def subscriptions_of(conn: Connection, group: str) -> list[dict[str, Any]]:
    sub = s.subscriptions
    rows = conn.execute(select(sub).where(sub.c.group_id == group).order_by(sub.c.source)).all()
    return [sub_dict(r) for r in rows]


def sub_dict(r: Any) -> dict[str, Any]:
    """A subscription row as the directory document shows it."""
    return {
        "group": r.group_id,
        "source": r.source,
        "types": json.loads(r.types) if r.types is not None else None,
        "min_priority": r.min_priority,
    }


def put_subscription(
    conn: Connection,
    *,
    group: str,
    source: str,
    types: list[str] | None,
    min_priority: str | None,
) -> bool:
    """Create or replace; returns True when it was created."""
    if not party_exists(conn, source):
        raise NotFound(f"party {source} does not exist")
    sub = s.subscriptions
    values = {
        "types": dumps(sorted(types)) if types is not None else None,
        "min_priority": min_priority,
    }
    res = conn.execute(
        update(sub).where(sub.c.group_id == group, sub.c.source == source).values(**values)
    )
    if res.rowcount:
        return False
    conn.execute(insert(sub).values(group_id=group, source=source, **values))
    return True


def delete_subscription(conn: Connection, *, group: str, source: str) -> None:
    sub = s.subscriptions
    res = conn.execute(delete(sub).where(sub.c.group_id == group, sub.c.source == source))
    if res.rowcount == 0:
        raise NotFound(f"{group} has no subscription to {source}")
