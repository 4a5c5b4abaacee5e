"""The directory as a whole: its version counter, the digest the log records, and the
whole document (parties, clients, keys, groups) as plain data. The entries' own queries
are in :mod:`exchange.store.parties` and :mod:`exchange.store.groups`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from exchange.store import key_lifecycle
from exchange.store import schema as s
from exchange.store import signing_policy as policy
from exchange.store.groups import sub_dict
from exchange.store.parties import ClientRow, EncKeyRow

__all__ = ["bump_version", "current_version", "load_all", "record_digest", "version_info"]

_VERSION = select(s.directory_meta.c.version)


def current_version(conn: Connection) -> int:
    return int(conn.execute(_VERSION).scalar() or 0)


def bump_version(conn: Connection) -> int:
    """PROTOCOL §7: every directory change bumps a version that only grows."""
    v = current_version(conn)
    dm = s.directory_meta
    if v == 0:
        conn.execute(insert(dm).values(id=1, version=1, digest="", log_index=-1))
        return 1
    conn.execute(update(dm).where(dm.c.id == 1).values(version=v + 1))
    return v + 1


def record_digest(conn: Connection, digest: str, log_index: int) -> None:
    dm = s.directory_meta
    conn.execute(update(dm).where(dm.c.id == 1).values(digest=digest, log_index=log_index))


def version_info(conn: Connection) -> tuple[int, str, int]:
    """(version, digest, log_index) of the current directory."""
    row = conn.execute(select(s.directory_meta)).first()
    if row is None:
        return 0, "", -1
    return int(row.version), str(row.digest), int(row.log_index)


def load_all(conn: Connection) -> dict[str, Any]:
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
    lifecycle = key_lifecycle.annotate(conn, clients, keys)  # issue 18
    members: dict[str, list[dict[str, str]]] = {}
    for r in conn.execute(
        select(s.memberships).order_by(s.memberships.c.group_id, s.memberships.c.party)
    ).all():
        members.setdefault(r.group_id, []).append({"party": r.party, "role": r.role})
    subs: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(
        select(s.subscriptions).order_by(s.subscriptions.c.group_id, s.subscriptions.c.source)
    ).all():
        d = sub_dict(r)
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
    extra = policy.annotate(conn, parties)  # issue 20
    return {
        **extra,
        **lifecycle,
        "version": current_version(conn),
        "parties": parties,
        "clients": clients,
        "encryption_keys": keys,
        "groups": groups,
    }
