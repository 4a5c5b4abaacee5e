"""Operator changes to the directory (PROTOCOL §7 ``/v1/admin/…``) and the bootstrap used
by ``exchange init``. Each change is one transaction with its audit leaf."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.crypto.keys import parse_encryption_jwk, parse_signing_jwk
from exchange.errors import Conflict, Forbidden, InputError, InvalidKey, NotFound
from exchange.service.caller import Caller
from exchange.service.directory import Directory
from exchange.service.signing_policy import check_key
from exchange.store import directory_status as status_store
from exchange.store import groups as group_store
from exchange.store import key_lifecycle as kl
from exchange.store import parties as party_store
from exchange.store import signing_policy as policy_store

__all__ = [
    "add_client",
    "add_enc_key",
    "add_group",
    "add_party",
    "bootstrap",
    "delete_subscription",
    "list_subscriptions",
    "put_subscription",
    "remove_client",
    "remove_group",
    "remove_member",
    "remove_party",
    "revoke_key",
    "set_client_status",
    "set_member",
    "set_party_status",
]


async def bootstrap(
    dirs: Directory, *, party: str, party_name: str, client_id: str, jwk: dict[str, Any]
) -> None:
    """Create the operator party and its first admin client (no caller: ``exchange init``)."""
    key = parse_signing_jwk(jwk)
    now = dirs.clock.ms()

    def change(conn: Connection) -> None:
        party_store.add_party(conn, id=party, name=party_name, kind="organization", now=now)
        dirs.record_change(conn, "add-party", {"party": party})
        party_store.add_client(
            conn,
            id=client_id,
            party=party,
            kid=key.kid,
            jwk=key.to_jwk(),
            roles=frozenset({"admin"}),
            now=now,
        )
        dirs.record_change(
            conn, "add-client", {"client": client_id, "kid": key.kid, "roles": ["admin"]}
        )

    await dirs.write(change)


async def add_party(dirs: Directory, caller: Caller, *, id: str, name: str, kind: str) -> int:
    caller.require("admin")
    now = dirs.clock.ms()

    def change(conn: Connection) -> int:
        party_store.add_party(conn, id=id, name=name, kind=kind, now=now)
        # the entry's own "kind" is "directory": the party's kind goes under another name
        return dirs.record_change(conn, "add-party", {"party": id, "party_kind": kind})

    return await dirs.write(change)


async def add_client(
    dirs: Directory,
    caller: Caller,
    *,
    id: str,
    party: str,
    roles: list[str],
    jwk: object,
    expires_at: int | None = None,
) -> tuple[str, int]:
    caller.require("admin")
    now = dirs.clock.ms()
    if expires_at is not None and expires_at <= now:
        raise InputError("expires_at is in the past")
    if id.split("/", 1)[0] != party:
        raise InputError(f"client id {id} must start with its party '{party}/'")
    if "admin" in roles and party != caller.party:
        # PROTOCOL §1: admin is for the exchange operator only. Admins exist only in the
        # operator's party (bootstrap, then this rule), so that party is the caller's.
        raise InputError("the admin role is only for clients of the exchange operator")
    key = parse_signing_jwk(jwk)

    def change(conn: Connection) -> int:
        if party_store.party_exists(conn, party):
            _require_not_removed(conn, party)
        check_key(policy_store.hybrid_required(conn, party), key, InvalidKey)
        party_store.add_client(
            conn,
            id=id,
            party=party,
            kid=key.kid,
            jwk=key.to_jwk(),
            roles=frozenset(roles),
            now=now,
        )
        subject: dict[str, Any] = {"client": id, "kid": key.kid, "roles": sorted(roles)}
        if expires_at is not None:  # issue 18
            kl.set_client_expiry(conn, id, expires_at)
            subject["expires_at"] = expires_at
        return dirs.record_change(conn, "add-client", subject)

    return key.kid, await dirs.write(change)


async def add_enc_key(
    dirs: Directory, caller: Caller, *, party: str, jwk: object, expires_at: int | None = None
) -> tuple[str, int]:
    caller.require("admin")
    key = parse_encryption_jwk(jwk)
    now = dirs.clock.ms()
    if expires_at is not None and expires_at <= now:
        raise InputError("expires_at is in the past")

    def change(conn: Connection) -> int:
        if party_store.party_exists(conn, party):
            _require_not_removed(conn, party)
        retired = party_store.add_enc_key(
            conn, party=party, kid=key.kid, alg=key.alg, jwk=key.to_jwk(), now=now
        )
        subject: dict[str, Any] = {"party": party, "kid": key.kid, "alg": key.alg}
        subject["retired"] = retired
        if expires_at is not None:  # issue 18
            kl.set_enc_key_expiry(conn, key.kid, expires_at)
            subject["expires_at"] = expires_at
        return dirs.record_change(conn, "add-encryption-key", subject)

    return key.kid, await dirs.write(change)


async def revoke_key(dirs: Directory, caller: Caller, *, kid: str) -> int:
    caller.require("admin")
    now = dirs.clock.ms()

    def change(conn: Connection) -> int:
        # issue 18: a key a client rotated away from loses the rest of its grace period
        previous_of = kl.end_grace(conn, kid, now)
        if previous_of is not None:
            kind, owner = "previous-signing", previous_of
        else:
            kind, owner = party_store.revoke_key(conn, kid)
        return dirs.record_change(
            conn, "revoke-key", {"kid": kid, "key_kind": kind, "owner": owner}
        )

    return await dirs.write(change)


async def add_group(dirs: Directory, caller: Caller, *, id: str, name: str) -> int:
    caller.require("admin")
    now = dirs.clock.ms()

    def change(conn: Connection) -> int:
        group_store.add_group(conn, id=id, name=name, now=now)
        return dirs.record_change(conn, "add-group", {"group": id})

    return await dirs.write(change)


async def set_member(dirs: Directory, caller: Caller, *, group: str, party: str, role: str) -> int:
    caller.require("admin")

    def change(conn: Connection) -> int:
        if party_store.party_exists(conn, party):
            _require_not_removed(conn, party)
        group_store.set_member(conn, group=group, party=party, role=role)
        return dirs.record_change(
            conn, "set-member", {"group": group, "party": party, "role": role}
        )

    return await dirs.write(change)


async def remove_member(dirs: Directory, caller: Caller, *, group: str, party: str) -> int:
    caller.require("admin")

    def change(conn: Connection) -> int:
        group_store.remove_member(conn, group=group, party=party)
        return dirs.record_change(conn, "remove-member", {"group": group, "party": party})

    return await dirs.write(change)


def _role_in(conn: Connection, group: str, party: str) -> str | None:
    if not group_store.group_exists(conn, group):
        raise NotFound(f"group {group} does not exist")
    return group_store.member_role(conn, group, party)


async def list_subscriptions(dirs: Directory, caller: Caller, group: str) -> list[dict[str, Any]]:
    """PROTOCOL §7: members of the group (any role) and the operator may read them."""

    def read(conn: Connection) -> list[dict[str, Any]]:
        role = _role_in(conn, group, caller.party)
        if role is None and not caller.is_admin:
            raise Forbidden(f"only members of {group} and the operator may see its subscriptions")
        return group_store.subscriptions_of(conn, group)

    return await dirs.db.run_read(read)


async def _require_chair(dirs: Directory, caller: Caller, group: str) -> None:
    role = await dirs.db.run_read(lambda c: _role_in(c, group, caller.party))
    if caller.is_admin:
        return
    if role != "chair" or not ({"poster", "reader"} & caller.roles):
        raise Forbidden(f"only the chair of {group} or the operator may change its subscriptions")


async def put_subscription(
    dirs: Directory,
    caller: Caller,
    *,
    group: str,
    source: str,
    types: list[str] | None,
    min_priority: str | None,
) -> tuple[bool, int]:
    await _require_chair(dirs, caller, group)

    def change(conn: Connection) -> tuple[bool, int]:
        created = group_store.put_subscription(
            conn, group=group, source=source, types=types, min_priority=min_priority
        )
        v = dirs.record_change(
            conn,
            "put-subscription",
            {"group": group, "source": source, "types": types, "min_priority": min_priority},
        )
        return created, v

    return await dirs.write(change)


async def delete_subscription(dirs: Directory, caller: Caller, *, group: str, source: str) -> int:
    await _require_chair(dirs, caller, group)

    def change(conn: Connection) -> int:
        group_store.delete_subscription(conn, group=group, source=source)
        return dirs.record_change(conn, "delete-subscription", {"group": group, "source": source})

    return await dirs.write(change)


def _require_not_removed(conn: Connection, party: str) -> None:
    if status_store.party_status(conn, party) == "removed":
        raise Conflict(f"party {party} was removed; removal is final")


async def set_party_status(dirs: Directory, caller: Caller, *, party: str, status: str) -> int:
    """Suspend (``suspended``) or resume (``active``) a party: while suspended its clients
    are refused; what is addressed to it is kept for when it resumes."""
    caller.require("admin")
    if party == caller.party:
        raise Conflict("the exchange operator's own party cannot be suspended")

    def change(conn: Connection) -> int:
        status_store.set_party_status(conn, party, status)
        pending = status_store.pending_deliveries(conn, party)
        op = "suspend-party" if status == "suspended" else "resume-party"
        return dirs.record_change(conn, op, {"party": party, "pending_deliveries": pending})

    return await dirs.write(change)


async def remove_party(
    dirs: Directory, caller: Caller, *, party: str
) -> tuple[dict[str, Any], int]:
    caller.require("admin")

    def change(conn: Connection) -> tuple[dict[str, Any], int]:
        changes = status_store.remove_party(conn, party, operator=caller.party)
        v = dirs.record_change(conn, "remove-party", {"party": party, **changes})
        return changes, v

    return await dirs.write(change)


async def set_client_status(
    dirs: Directory, caller: Caller, *, client_id: str, status: str
) -> tuple[str, int]:
    """Suspend or resume one client (a desk); its party's other clients are unaffected."""
    caller.require("admin")

    def change(conn: Connection) -> tuple[str, int]:
        row = status_store.set_client_status(conn, client_id, status)
        if status == "active":
            _require_not_removed(conn, row.party)
        op = "suspend-client" if status == "suspended" else "resume-client"
        return row.kid, dirs.record_change(conn, op, {"client": client_id, "kid": row.kid})

    return await dirs.write(change)


async def remove_client(dirs: Directory, caller: Caller, *, client_id: str) -> tuple[str, int]:
    """Revoke a client's signing key for good (its past bulletins stay in the log)."""
    caller.require("admin")

    def change(conn: Connection) -> tuple[str, int]:
        row = status_store.set_client_status(conn, client_id, "revoked")
        v = dirs.record_change(conn, "remove-client", {"client": client_id, "kid": row.kid})
        return row.kid, v

    return await dirs.write(change)


async def remove_group(
    dirs: Directory, caller: Caller, *, group: str
) -> tuple[dict[str, Any], int]:
    caller.require("admin")

    def change(conn: Connection) -> tuple[dict[str, Any], int]:
        changes = status_store.remove_group(conn, group)
        return changes, dirs.record_change(conn, "remove-group", {"group": group, **changes})

    return await dirs.write(change)
