"""Queries for the key lifecycle (issue 18): a client's rotated signing keys and their
grace period, key expiry dates, and the server key's rotation statements.

Plain synchronous functions of a ``Connection`` (the one transaction API); the directory
module calls :func:`previous_client_row` and :func:`annotate`, nothing else."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Connection, bindparam, insert, literal, select, update

from exchange.errors import Conflict, NotFound
from exchange.store import schema as s
from exchange.store import signing_policy as policy

__all__ = [
    "add_server_rotation",
    "annotate",
    "end_grace",
    "previous_client_row",
    "rotate_client_key",
    "server_rotations",
    "set_client_expiry",
    "set_enc_key_expiry",
]

_p = s.previous_signing_keys

#: the columns of ``directory._CLIENT_BY_KID``, with the previous key's kid and JWK
_PREVIOUS_BY_KID = (
    select(
        s.clients.c.id,
        s.clients.c.party,
        _p.c.kid,
        _p.c.jwk,
        s.clients.c.roles,
        s.clients.c.status,
        s.clients.c.created_at,
        literal(None).label("expires_at"),
        _p.c.retire_at,
        s.parties.c.status.label("party_status"),
        policy.HYBRID_REQUIRED,
    )
    .join(s.clients, s.clients.c.id == _p.c.client_id)
    .join(s.parties, s.parties.c.id == s.clients.c.party)
    .where(_p.c.kid == bindparam("kid"))
)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def previous_client_row(conn: Connection, kid: str) -> Any:
    """The client row a rotated-away key ``kid`` belonged to, as that key (with its
    ``retire_at``), or None. Whether it is still in its grace period is the caller's
    question (``ClientRow.lapsed``): the answer changes with time, not with the row."""
    return conn.execute(_PREVIOUS_BY_KID, {"kid": kid}).first()


def _kid_taken(conn: Connection, kid: str) -> bool:
    in_clients = conn.execute(select(s.clients.c.id).where(s.clients.c.kid == kid)).first()
    return in_clients is not None or (
        conn.execute(select(_p.c.kid).where(_p.c.kid == kid)).first() is not None
    )


def rotate_client_key(
    conn: Connection,
    *,
    client_id: str,
    kid: str,
    jwk: dict[str, Any],
    now: int,
    retire_at: int,
    expires_at: int | None,
    current: str | None = None,
) -> str:
    """Make ``kid`` the client's signing key; its current key verifies until
    ``retire_at`` (ms), then is refused. Returns the old kid. A key is never reused.
    ``current``: the kid the request was signed with, which must still be the current one
    (a key in its grace period cannot rotate again)."""
    row = conn.execute(
        select(s.clients.c.kid, s.clients.c.jwk, s.clients.c.status).where(
            s.clients.c.id == client_id
        )
    ).first()
    if row is None:
        raise NotFound(f"client {client_id} does not exist")
    if row.status == "revoked":
        raise Conflict(f"client {client_id} is revoked: register a new client instead")
    if current is not None and row.kid != current:
        raise Conflict("only the client's current signing key can rotate it")
    if _kid_taken(conn, kid):
        raise Conflict("this signing key is already registered (a key is never reused)")
    conn.execute(
        insert(_p).values(
            kid=row.kid, client_id=client_id, jwk=row.jwk, rotated_at=now, retire_at=retire_at
        )
    )
    conn.execute(
        update(s.clients)
        .where(s.clients.c.id == client_id)
        .values(kid=kid, jwk=_dumps(jwk), expires_at=expires_at)
    )
    return str(row.kid)


def end_grace(conn: Connection, kid: str, now: int) -> str | None:
    """Revoke a rotated-away key: its grace period ends now. Returns its client's id, or
    None when ``kid`` is no previous key."""
    client_id = conn.execute(select(_p.c.client_id).where(_p.c.kid == kid)).scalar()
    if client_id is None:
        return None
    conn.execute(update(_p).where(_p.c.kid == kid, _p.c.retire_at > now).values(retire_at=now))
    return str(client_id)


def set_client_expiry(conn: Connection, client_id: str, expires_at: int | None) -> None:
    done = conn.execute(
        update(s.clients).where(s.clients.c.id == client_id).values(expires_at=expires_at)
    )
    if not done.rowcount:
        raise NotFound(f"client {client_id} does not exist")


def set_enc_key_expiry(conn: Connection, kid: str, expires_at: int | None) -> str:
    """Set an encryption key's expiry; returns its party."""
    party = conn.execute(select(s.enc_keys.c.party).where(s.enc_keys.c.kid == kid)).scalar()
    if party is None:
        raise NotFound("no encryption key with this kid")
    conn.execute(update(s.enc_keys).where(s.enc_keys.c.kid == kid).values(expires_at=expires_at))
    return str(party)


def annotate(
    conn: Connection, clients: list[dict[str, Any]], keys: list[dict[str, Any]]
) -> dict[str, Any]:
    """Add to the directory's client and key entries their ``expires_at`` (ms) and a
    client's ``previous_keys`` (kid, jwk, retire_at), each only where there is one, so
    that a directory without them keeps its digest. Returns the top-level members to
    add: ``previous_server_keys`` (kid, jwk, until: the rotation's time) once the server
    key has rotated."""
    expiry = dict(
        conn.execute(
            select(s.clients.c.id, s.clients.c.expires_at).where(
                s.clients.c.expires_at.is_not(None)
            )
        ).all()
    )
    previous: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(select(_p).order_by(_p.c.client_id, _p.c.rotated_at, _p.c.kid)):
        entry = {"kid": r.kid, "jwk": json.loads(r.jwk), "retire_at": int(r.retire_at)}
        previous.setdefault(r.client_id, []).append(entry)
    for c in clients:
        if c["id"] in expiry:
            c["expires_at"] = int(expiry[c["id"]])
        if c["id"] in previous:
            c["previous_keys"] = previous[c["id"]]
    key_expiry = dict(
        conn.execute(
            select(s.enc_keys.c.kid, s.enc_keys.c.expires_at).where(
                s.enc_keys.c.expires_at.is_not(None)
            )
        ).all()
    )
    for k in keys:
        if k["kid"] in key_expiry:
            k["expires_at"] = int(key_expiry[k["kid"]])
    t = s.server_key_rotations
    server = [
        {"kid": r.old_kid, "jwk": _old_jwk(r.statement), "until": int(r.at)}
        for r in conn.execute(select(t).order_by(t.c.at, t.c.old_kid))
    ]
    return {"previous_server_keys": server} if server else {}


def _old_jwk(statement: str) -> Any:
    """The old key as its own statement names it (the payload, not checked again here)."""
    payload = statement.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["old_jwk"]


def add_server_rotation(
    conn: Connection, *, old_kid: str, new_kid: str, statement: str, at: int
) -> None:
    conn.execute(
        insert(s.server_key_rotations).values(
            old_kid=old_kid, new_kid=new_kid, statement=statement, at=at
        )
    )


def server_rotations(conn: Connection) -> list[dict[str, Any]]:
    """Every server key rotation, oldest first: old_kid, new_kid, statement, at."""
    t = s.server_key_rotations
    return [
        {"old_kid": r.old_kid, "new_kid": r.new_kid, "statement": r.statement, "at": int(r.at)}
        for r in conn.execute(select(t).order_by(t.c.at, t.c.old_kid))
    ]
