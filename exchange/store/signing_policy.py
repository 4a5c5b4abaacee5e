"""Queries for the signing policy (issue 20): scopes that require hybrid keys.

A scope is a party id or ``"*"`` (the whole exchange). The policy is read with each
client row (``parties.client_by_kid``) and published in the directory document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, literal, select

from exchange.store import schema as s

__all__ = ["EXCHANGE_WIDE", "HYBRID_REQUIRED", "annotate", "hybrid_required", "set_required"]

EXCHANGE_WIDE = "*"

#: A column for queries of ``clients``: does the client's party (or everyone) need hybrid?
HYBRID_REQUIRED = (
    select(s.signing_policy.c.scope)
    .where(s.signing_policy.c.scope.in_([s.clients.c.party, literal(EXCHANGE_WIDE)]))
    .exists()
    .label("hybrid_required")
)


def annotate(conn: Connection, parties: list[dict[str, Any]]) -> dict[str, Any]:
    """Mark the directory's parties under the policy; returns the top-level members to add.
    ``require_hybrid`` appears only where set, so directories without a policy are as before."""
    scopes = set(conn.execute(select(s.signing_policy.c.scope)).scalars())
    for p in parties:
        if p["id"] in scopes:
            p["require_hybrid"] = True
    return {"require_hybrid": True} if EXCHANGE_WIDE in scopes else {}


def hybrid_required(conn: Connection, party: str) -> bool:
    """Whether ``party``'s clients must hold hybrid keys (its own policy or the exchange's)."""
    stmt = select(s.signing_policy.c.scope).where(
        s.signing_policy.c.scope.in_([party, EXCHANGE_WIDE])
    )
    return conn.execute(stmt).first() is not None


def set_required(conn: Connection, scope: str, required: bool, now: int) -> bool:
    """Set or clear the policy of ``scope``; returns whether anything changed."""
    table = s.signing_policy
    present = conn.execute(select(table.c.scope).where(table.c.scope == scope)).first()
    if required and present is None:
        conn.execute(insert(table).values(scope=scope, set_at=now))
        return True
    if not required and present is not None:
        conn.execute(delete(table).where(table.c.scope == scope))
        return True
    return False
