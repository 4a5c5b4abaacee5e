"""Queries for the directory: parties, clients, encryption keys, groups, memberships,
subscriptions, and its version counter."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.errors import Conflict, NotFound
from exchange.store import key_lifecycle
from exchange.store import schema as s
from exchange.store import signing_policy as policy

__all__ = [
    "ClientRow",
    "EncKeyRow",
    "add_client",
    "add_enc_key",
    "add_group",
    "add_party",
    "bump_version",
    "client_by_id",
    "client_by_kid",
    "client_by_kid_txn",
    "current_version",
    "current_version_txn",
    "delete_subscription",
    "enc_key_by_kid",
    "group_exists",
    "load_all",
    "load_all_txn",
    "member_role",
    "party_exists",
    "put_subscription",
    "record_digest",
    "remove_member",
    "revoke_key",
    "set_member",
    "subscriptions_of",
    "version_info",
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


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_VERSION = select(s.directory_meta.c.version)
_CLIENT_BY_KID = (
    select(s.clients, s.parties.c.status.label("party_status"), policy.HYBRID_REQUIRED)
    .join(s.parties, s.parties.c.id == s.clients.c.party)
    .where(s.clients.c.kid == bindparam("kid"))
)


def current_version_txn(conn: Connection) -> int:
    return int(conn.execute(_VERSION).scalar() or 0)


async def current_version(conn: AsyncConnection) -> int:
    return await conn.run_sync(current_version_txn)


async def bump_version(conn: AsyncConnection) -> int:
    """PROTOCOL §7: every directory change bumps a version that only grows."""
    v = await current_version(conn)
    dm = s.directory_meta
    if v == 0:
        await conn.execute(insert(dm).values(id=1, version=1, digest="", log_index=-1))
        return 1
    await conn.execute(update(dm).where(dm.c.id == 1).values(version=v + 1))
    return v + 1


async def record_digest(conn: AsyncConnection, digest: str, log_index: int) -> None:
    dm = s.directory_meta
    await conn.execute(update(dm).where(dm.c.id == 1).values(digest=digest, log_index=log_index))


async def version_info(conn: AsyncConnection) -> tuple[int, str, int]:
    """(version, digest, log_index) of the current directory."""
    row = (await conn.execute(select(s.directory_meta))).first()
    if row is None:
        return 0, "", -1
    return int(row.version), str(row.digest), int(row.log_index)


async def party_exists(conn: AsyncConnection, party: str) -> bool:
    row = (await conn.execute(select(s.parties.c.id).where(s.parties.c.id == party))).first()
    return row is not None


async def group_exists(conn: AsyncConnection, gid: str) -> bool:
    row = (await conn.execute(select(s.groups.c.id).where(s.groups.c.id == gid))).first()
    return row is not None


async def _insert(conn: AsyncConnection, stmt: Any, what: str) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(stmt)
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc


async def add_party(conn: AsyncConnection, *, id: str, name: str, kind: str, now: int) -> None:
    await _insert(
        conn, insert(s.parties).values(id=id, name=name, kind=kind, created_at=now), f"party {id}"
    )


async def add_client(
    conn: AsyncConnection,
    *,
    id: str,
    party: str,
    kid: str,
    jwk: dict[str, Any],
    roles: frozenset[str],
    now: int,
) -> None:
    if not await party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    if await client_by_kid(conn, kid) is not None:
        raise Conflict("this signing key is already registered")
    await _insert(
        conn,
        insert(s.clients).values(
            id=id,
            party=party,
            kid=kid,
            jwk=_dumps(jwk),
            roles=",".join(sorted(roles)),
            status="active",
            created_at=now,
        ),
        f"client {id}",
    )


def client_by_kid_txn(conn: Connection, kid: str) -> ClientRow | None:
    row = conn.execute(_CLIENT_BY_KID, {"kid": kid}).first()
    if row is None:  # issue 18: a key the client rotated away from (in its grace or past)
        row = key_lifecycle.previous_client_row_txn(conn, kid)
    return ClientRow.of(row) if row else None


async def client_by_kid(conn: AsyncConnection, kid: str) -> ClientRow | None:
    return await conn.run_sync(client_by_kid_txn, kid)


async def client_by_id(conn: AsyncConnection, cid: str) -> ClientRow | None:
    row = (await conn.execute(select(s.clients).where(s.clients.c.id == cid))).first()
    return ClientRow.of(row) if row else None


async def enc_key_by_kid(conn: AsyncConnection, kid: str) -> EncKeyRow | None:
    row = (await conn.execute(select(s.enc_keys).where(s.enc_keys.c.kid == kid))).first()
    return EncKeyRow.of(row) if row else None


async def add_enc_key(
    conn: AsyncConnection, *, party: str, kid: str, alg: str, jwk: dict[str, Any], now: int
) -> str | None:
    """Register ``kid`` as the party's active key; the previous active key is retired.
    Returns the retired kid, if any."""
    if not await party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    if await enc_key_by_kid(conn, kid) is not None:
        raise Conflict("this encryption key is already registered")
    old = (
        await conn.execute(
            select(s.enc_keys.c.kid).where(
                s.enc_keys.c.party == party, s.enc_keys.c.status == "active"
            )
        )
    ).scalar()
    if old is not None:
        await conn.execute(
            update(s.enc_keys).where(s.enc_keys.c.kid == old).values(status="retired")
        )
    await conn.execute(
        insert(s.enc_keys).values(
            kid=kid, party=party, alg=alg, jwk=_dumps(jwk), status="active", created_at=now
        )
    )
    return str(old) if old is not None else None


async def revoke_key(conn: AsyncConnection, kid: str) -> tuple[str, str]:
    """Revoke a signing (client) or encryption key by kid; returns (kind, owner).

    Revocation is final: revoking a revoked key is a conflict (nothing changes, nothing
    is logged). The operator's last active admin key cannot be revoked, or nobody could
    administer the exchange again."""
    client = await client_by_kid(conn, kid)
    if client is not None:
        if client.status == "revoked":
            raise Conflict("this key is already revoked")
        if "admin" in client.roles and await _active_admins(conn) <= 1:
            raise Conflict("this is the last active admin key: register another one first")
        await conn.execute(update(s.clients).where(s.clients.c.kid == kid).values(status="revoked"))
        return "signing", client.id
    key = await enc_key_by_kid(conn, kid)
    if key is not None:
        if key.status == "revoked":
            raise Conflict("this key is already revoked")
        await conn.execute(
            update(s.enc_keys).where(s.enc_keys.c.kid == kid).values(status="revoked")
        )
        return "encryption", key.party
    raise NotFound("no key with this kid")


async def _active_admins(conn: AsyncConnection) -> int:
    rows = (
        await conn.execute(select(s.clients.c.roles).where(s.clients.c.status == "active"))
    ).all()
    return sum(1 for r in rows if "admin" in r.roles.split(","))


async def add_group(conn: AsyncConnection, *, id: str, name: str, now: int) -> None:
    await _insert(conn, insert(s.groups).values(id=id, name=name, created_at=now), f"group {id}")


async def set_member(conn: AsyncConnection, *, group: str, party: str, role: str) -> None:
    if not await group_exists(conn, group):
        raise NotFound(f"group {group} does not exist")
    if not await party_exists(conn, party):
        raise NotFound(f"party {party} does not exist")
    m = s.memberships
    res = await conn.execute(
        update(m).where(m.c.group_id == group, m.c.party == party).values(role=role)
    )
    if res.rowcount == 0:
        await conn.execute(insert(m).values(group_id=group, party=party, role=role))


async def member_role(conn: AsyncConnection, group: str, party: str) -> str | None:
    m = s.memberships
    role = (
        await conn.execute(select(m.c.role).where(m.c.group_id == group, m.c.party == party))
    ).scalar()
    return str(role) if role is not None else None


async def remove_member(conn: AsyncConnection, *, group: str, party: str) -> None:
    m = s.memberships
    res = await conn.execute(delete(m).where(m.c.group_id == group, m.c.party == party))
    if res.rowcount == 0:
        raise NotFound(f"{party} is not a member of {group}")


async def subscriptions_of(conn: AsyncConnection, group: str) -> list[dict[str, Any]]:
    sub = s.subscriptions
    rows = (
        await conn.execute(select(sub).where(sub.c.group_id == group).order_by(sub.c.source))
    ).all()
    return [_sub_dict(r) for r in rows]


def _sub_dict(r: Any) -> dict[str, Any]:
    return {
        "group": r.group_id,
        "source": r.source,
        "types": json.loads(r.types) if r.types is not None else None,
        "min_priority": r.min_priority,
    }


async def put_subscription(
    conn: AsyncConnection,
    *,
    group: str,
    source: str,
    types: list[str] | None,
    min_priority: str | None,
) -> bool:
    """Create or replace; returns True when it was created."""
    if not await party_exists(conn, source):
        raise NotFound(f"party {source} does not exist")
    sub = s.subscriptions
    values = {
        "types": _dumps(sorted(types)) if types is not None else None,
        "min_priority": min_priority,
    }
    res = await conn.execute(
        update(sub).where(sub.c.group_id == group, sub.c.source == source).values(**values)
    )
    if res.rowcount:
        return False
    await conn.execute(insert(sub).values(group_id=group, source=source, **values))
    return True


async def delete_subscription(conn: AsyncConnection, *, group: str, source: str) -> None:
    sub = s.subscriptions
    res = await conn.execute(delete(sub).where(sub.c.group_id == group, sub.c.source == source))
    if res.rowcount == 0:
        raise NotFound(f"{group} has no subscription to {source}")


def load_all_txn(conn: Connection) -> dict[str, Any]:
    """The whole directory as plain data, in a stable order (for signing and routing)."""
    parties = [
        # "status" only when not active: a directory made before parties had one keeps
        # its digest (the log's record of it stays valid across the upgrade)
        {"id": r.id, "name": r.name, "kind": r.kind}
        | ({"status": r.status} if r.status != "active" else {})
        for r in (conn.execute(select(s.parties).order_by(s.parties.c.id))).all()
    ]
    clients = [
        {
            "id": c.id,
            "party": c.party,
            "kid": c.kid,
            "roles": sorted(c.roles),
            "status": c.status,
            "jwk": c.jwk,
        }
        for c in map(ClientRow.of, (conn.execute(select(s.clients).order_by(s.clients.c.id))).all())
    ]
    keys = [
        {"kid": k.kid, "party": k.party, "alg": k.alg, "status": k.status, "jwk": k.jwk}
        for k in map(
            EncKeyRow.of,
            conn.execute(
                select(s.enc_keys).order_by(
                    s.enc_keys.c.party, s.enc_keys.c.created_at, s.enc_keys.c.kid
                )
            ).all(),
        )
    ]
    lifecycle = key_lifecycle.annotate_txn(conn, clients, keys)  # issue 18
    members: dict[str, list[dict[str, str]]] = {}
    for r in conn.execute(
        select(s.memberships).order_by(s.memberships.c.group_id, s.memberships.c.party)
    ).all():
        members.setdefault(r.group_id, []).append({"party": r.party, "role": r.role})
    subs: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(
        select(s.subscriptions).order_by(s.subscriptions.c.group_id, s.subscriptions.c.source)
    ).all():
        d = _sub_dict(r)
        del d["group"]
        subs.setdefault(r.group_id, []).append(d)
    groups = [
        {
            "id": g.id,
            "name": g.name,
            "members": members.get(g.id, []),
            "subscriptions": subs.get(g.id, []),
        }
        for g in (conn.execute(select(s.groups).order_by(s.groups.c.id))).all()
    ]
    extra = policy.annotate_txn(conn, parties)  # issue 20
    return {
        **extra,
        **lifecycle,
        "version": current_version_txn(conn),
        "parties": parties,
        "clients": clients,
        "encryption_keys": keys,
        "groups": groups,
    }


async def load_all(conn: AsyncConnection) -> dict[str, Any]:
    return await conn.run_sync(load_all_txn)
