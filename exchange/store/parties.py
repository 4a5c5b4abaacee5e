"""Queries for parties, their clients (signing keys) and encryption keys."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange.errors import Conflict, NotFound
from exchange.store import key_lifecycle
from exchange.store import schema as s
from exchange.store import signing_policy as policy

__all__ = [
    "ClientRow",
    "EncKeyRow",
    "add_client",
    "add_enc_key",
    "add_party",
    "client_by_id",
    "client_by_kid",
    "dumps",
    "enc_key_by_kid",
    "insert_unique",
    "party_exists",
    "revoke_key",
]


@dataclass(frozen=True)
class ClientRow:
    id: str
    party: str
    kid: str
    jwk: dict[str, Any]
    roles: frozenset[str]
    status: str
    party_status: str = "active"  # read with the row for authentication
    hybrid_required: bool = False  # issue 20: set by client_by_kid only
    # issue 18 (ms): a rotated-away key's end of grace; the current key's expiry date
    retire_at: int | None = None
    expires_at: int | None = None

    @classmethod
    def of(cls, row: Any) -> ClientRow:
        return cls(
            id=row.id,
            party=row.party,
            kid=row.kid,
            jwk=json.loads(row.jwk),
            roles=frozenset(r for r in row.roles.split(",") if r),
            status=row.status,
            party_status=getattr(row, "party_status", "active"),
            hybrid_required=bool(row._mapping.get("hybrid_required", False)),
            retire_at=row._mapping.get("retire_at"),
            expires_at=row._mapping.get("expires_at"),
        )

    @property
    def lapsed(self) -> str | None:
        """Issue 18: why this key is refused now (rotated away, or expired), else None."""
        now = time.time() * 1000
        if self.retire_at is not None and now >= self.retire_at:
            return "key retired: this client has rotated to a new signing key"
        if self.expires_at is not None and now >= self.expires_at:
            return "key expired: register a new signing key"
        return None

    @property
    def refusal(self) -> str | None:
        """Why a request with this key is refused (None: it may proceed)."""
        if self.status != "active":
            return "key revoked" if self.status == "revoked" else f"client {self.status}"
        if self.party_status != "active":
            return f"party {self.party_status}"
        return self.lapsed


@dataclass(frozen=True)
class EncKeyRow:
    kid: str
    party: str
    alg: str
    jwk: dict[str, Any]
    status: str

    @classmethod
    def of(cls, row: Any) -> EncKeyRow:
        return cls(row.kid, row.party, row.alg, json.loads(row.jwk), row.status)


def dumps(obj: Any) -> str:
    """Stored JSON: sorted keys, so that equal values store (and digest) alike."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_CLIENT_BY_KID = (
    select(s.clients, s.parties.c.status.label("party_status"), policy.HYBRID_REQUIRED)
    .join(s.parties, s.parties.c.id == s.clients.c.party)
    .where(s.clients.c.kid == bindparam("kid"))
)


def party_exists(conn: Connection, party: str) -> bool:
    return conn.execute(select(s.parties.c.id).where(s.parties.c.id == party)).first() is not None


def insert_unique(conn: Connection, stmt: Any, what: str) -> None:
    """Run an insert; a duplicate key is a Conflict naming ``what``."""
    try:
        with conn.begin_nested():
            conn.execute(stmt)
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc


def add_party(conn: Connection, *, id: str, name: str, kind: str, now: int) -> None:
    insert_unique(
        conn, insert(s.parties).values(id=id, name=name, kind=kind, created_at=now), f"party {id}"
    )


def add_client(
    conn: Connection,
    *,
    id: str,
    party: str,
    kid: str,
    jwk: dict[str, Any],
    roles: frozenset[str],
    now: int,
) -> None:
    if not party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    if client_by_kid(conn, kid) is not None:
        raise Conflict("this signing key is already registered")
    insert_unique(
        conn,
        insert(s.clients).values(
            id=id,
            party=party,
            kid=kid,
            jwk=dumps(jwk),
            roles=",".join(sorted(roles)),
            status="active",
            created_at=now,
        ),
        f"client {id}",
    )


def client_by_kid(conn: Connection, kid: str) -> ClientRow | None:
    row = conn.execute(_CLIENT_BY_KID, {"kid": kid}).first()
    if row is None:  # issue 18: a key the client rotated away from (in its grace or past)
        row = key_lifecycle.previous_client_row(conn, kid)
    return ClientRow.of(row) if row else None


def client_by_id(conn: Connection, cid: str) -> ClientRow | None:
    row = conn.execute(select(s.clients).where(s.clients.c.id == cid)).first()
    return ClientRow.of(row) if row else None


def enc_key_by_kid(conn: Connection, kid: str) -> EncKeyRow | None:
    row = conn.execute(select(s.enc_keys).where(s.enc_keys.c.kid == kid)).first()
    return EncKeyRow.of(row) if row else None


def add_enc_key(
    conn: Connection, *, party: str, kid: str, alg: str, jwk: dict[str, Any], now: int
) -> str | None:
    """Register ``kid`` as the party's active key; the previous active key is retired.
    Returns the retired kid, if any."""
    if not party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    if enc_key_by_kid(conn, kid) is not None:
        raise Conflict("this encryption key is already registered")
    k = s.enc_keys
    old = conn.execute(select(k.c.kid).where(k.c.party == party, k.c.status == "active")).scalar()
    if old is not None:
        conn.execute(update(k).where(k.c.kid == old).values(status="retired"))
    conn.execute(
        insert(k).values(
            kid=kid, party=party, alg=alg, jwk=dumps(jwk), status="active", created_at=now
        )
    )
    return str(old) if old is not None else None


def revoke_key(conn: Connection, kid: str) -> tuple[str, str]:
    """Revoke a signing (client) or encryption key by kid; returns (kind, owner).

    Revocation is final: revoking a revoked key is a conflict (nothing changes, nothing
    is logged). The operator's last active admin key cannot be revoked, or nobody could
    administer the exchange again."""
    client = client_by_kid(conn, kid)
    if client is not None:
        if client.status == "revoked":
            raise Conflict("this key is already revoked")
        if "admin" in client.roles and _active_admins(conn) <= 1:
            raise Conflict("this is the last active admin key: register another one first")
        conn.execute(update(s.clients).where(s.clients.c.kid == kid).values(status="revoked"))
        return "signing", client.id
    key = enc_key_by_kid(conn, kid)
    if key is not None:
        if key.status == "revoked":
            raise Conflict("this key is already revoked")
        conn.execute(update(s.enc_keys).where(s.enc_keys.c.kid == kid).values(status="revoked"))
        return "encryption", key.party
    raise NotFound("no key with this kid")


def _active_admins(conn: Connection) -> int:
    rows = conn.execute(select(s.clients.c.roles).where(s.clients.c.status == "active")).all()
    return sum(1 for r in rows if "admin" in r.roles.split(","))
