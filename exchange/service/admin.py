"""Operator changes to the directory (PROTOCOL §7 ``/v1/admin/…``) and the bootstrap used
by ``exchange init``. Each change is one transaction with its audit leaf."""

from __future__ import annotations

from typing import Any

from exchange.crypto.keys import parse_encryption_jwk, parse_signing_jwk
from exchange.errors import Conflict, Forbidden, InputError, InvalidKey, NotFound
from exchange.service.core import Caller, Exchange
from exchange.service.signing_policy import check_key
from exchange.store import directory as dir_store
from exchange.store import directory_status as status_store
from exchange.store import key_lifecycle as kl
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
    ex: Exchange, *, party: str, party_name: str, client_id: str, jwk: dict[str, Any]
) -> None:
    """Create the operator party and its first admin client (no caller: ``exchange init``)."""
    key = parse_signing_jwk(jwk)
    now = ex.clock.ms()
    async with ex.directory_write() as conn:
        await dir_store.add_party(conn, id=party, name=party_name, kind="organization", now=now)
        await ex.record_directory_change(conn, "add-party", {"party": party})
        await dir_store.add_client(
            conn,
            id=client_id,
            party=party,
            kid=key.kid,
            jwk=key.to_jwk(),
            roles=frozenset({"admin"}),
            now=now,
        )
        await ex.record_directory_change(
            conn, "add-client", {"client": client_id, "kid": key.kid, "roles": ["admin"]}
        )


async def add_party(ex: Exchange, caller: Caller, *, id: str, name: str, kind: str) -> int:
    caller.require("admin")
    async with ex.directory_write() as conn:
        await dir_store.add_party(conn, id=id, name=name, kind=kind, now=ex.clock.ms())
        # the entry's own "kind" is "directory": the party's kind goes under another name
        return await ex.record_directory_change(
            conn, "add-party", {"party": id, "party_kind": kind}
        )


async def add_client(
    ex: Exchange,
    caller: Caller,
    *,
    id: str,
    party: str,
    roles: list[str],
    jwk: object,
    expires_at: int | None = None,
) -> tuple[str, int]:
    caller.require("admin")
    if expires_at is not None and expires_at <= ex.clock.ms():
        raise InputError("expires_at is in the past")
    if id.split("/", 1)[0] != party:
        raise InputError(f"client id {id} must start with its party '{party}/'")
    if "admin" in roles and party != caller.party:
        # PROTOCOL §1: admin is for the exchange operator only. Admins exist only in the
        # operator's party (bootstrap, then this rule), so that party is the caller's.
        raise InputError("the admin role is only for clients of the exchange operator")
    key = parse_signing_jwk(jwk)
    async with ex.directory_write() as conn:
        if await dir_store.party_exists(conn, party):
            await _require_not_removed(conn, party)
        check_key(await policy_store.hybrid_required(conn, party), key, InvalidKey)
        await dir_store.add_client(
            conn,
            id=id,
            party=party,
            kid=key.kid,
            jwk=key.to_jwk(),
            roles=frozenset(roles),
            now=ex.clock.ms(),
        )
        subject: dict[str, Any] = {"client": id, "kid": key.kid, "roles": sorted(roles)}
        if expires_at is not None:  # issue 18
            await conn.run_sync(lambda c: kl.set_client_expiry_txn(c, id, expires_at))
            subject["expires_at"] = expires_at
        v = await ex.record_directory_change(conn, "add-client", subject)
    return key.kid, v


async def add_enc_key(
    ex: Exchange, caller: Caller, *, party: str, jwk: object, expires_at: int | None = None
) -> tuple[str, int]:
    caller.require("admin")
    key = parse_encryption_jwk(jwk)
    if expires_at is not None and expires_at <= ex.clock.ms():
        raise InputError("expires_at is in the past")
    async with ex.directory_write() as conn:
        if await dir_store.party_exists(conn, party):
            await _require_not_removed(conn, party)
        retired = await dir_store.add_enc_key(
            conn, party=party, kid=key.kid, alg=key.alg, jwk=key.to_jwk(), now=ex.clock.ms()
        )
        subject: dict[str, Any] = {"party": party, "kid": key.kid, "alg": key.alg}
        subject["retired"] = retired
        if expires_at is not None:  # issue 18
            await conn.run_sync(lambda c: kl.set_enc_key_expiry_txn(c, key.kid, expires_at))
            subject["expires_at"] = expires_at
        v = await ex.record_directory_change(conn, "add-encryption-key", subject)
    return key.kid, v


async def revoke_key(ex: Exchange, caller: Caller, *, kid: str) -> int:
    caller.require("admin")
    now = ex.clock.ms()
    async with ex.directory_write() as conn:
        # issue 18: a key a client rotated away from loses the rest of its grace period
        previous_of = await conn.run_sync(lambda c: kl.end_grace_txn(c, kid, now))
        if previous_of is not None:
            kind, owner = "previous-signing", previous_of
        else:
            kind, owner = await dir_store.revoke_key(conn, kid)
        return await ex.record_directory_change(
            conn, "revoke-key", {"kid": kid, "key_kind": kind, "owner": owner}
        )


async def add_group(ex: Exchange, caller: Caller, *, id: str, name: str) -> int:
    caller.require("admin")
    async with ex.directory_write() as conn:
        await dir_store.add_group(conn, id=id, name=name, now=ex.clock.ms())
        return await ex.record_directory_change(conn, "add-group", {"group": id})


async def set_member(ex: Exchange, caller: Caller, *, group: str, party: str, role: str) -> int:
    caller.require("admin")
    async with ex.directory_write() as conn:
        if await dir_store.party_exists(conn, party):
            await _require_not_removed(conn, party)
        await dir_store.set_member(conn, group=group, party=party, role=role)
        return await ex.record_directory_change(
            conn, "set-member", {"group": group, "party": party, "role": role}
        )


async def remove_member(ex: Exchange, caller: Caller, *, group: str, party: str) -> int:
    caller.require("admin")
    async with ex.directory_write() as conn:
        await dir_store.remove_member(conn, group=group, party=party)
        return await ex.record_directory_change(
            conn, "remove-member", {"group": group, "party": party}
        )


async def _role_in(ex: Exchange, group: str, party: str) -> str | None:
    async with ex.db.read() as conn:
        if not await dir_store.group_exists(conn, group):
            raise NotFound(f"group {group} does not exist")
        return await dir_store.member_role(conn, group, party)


async def list_subscriptions(ex: Exchange, caller: Caller, group: str) -> list[dict[str, Any]]:
    """PROTOCOL §7: members of the group (any role) and the operator may read them."""
    role = await _role_in(ex, group, caller.party)
    if role is None and not caller.is_admin:
        raise Forbidden(f"only members of {group} and the operator may see its subscriptions")
    async with ex.db.read() as conn:
        return await dir_store.subscriptions_of(conn, group)


async def _require_chair(ex: Exchange, caller: Caller, group: str) -> None:
    role = await _role_in(ex, group, caller.party)
    if caller.is_admin:
        return
    if role != "chair" or not ({"poster", "reader"} & caller.roles):
        raise Forbidden(f"only the chair of {group} or the operator may change its subscriptions")


async def put_subscription(
    ex: Exchange,
    caller: Caller,
    *,
    group: str,
    source: str,
    types: list[str] | None,
    min_priority: str | None,
) -> tuple[bool, int]:
    await _require_chair(ex, caller, group)
    async with ex.directory_write() as conn:
        created = await dir_store.put_subscription(
            conn, group=group, source=source, types=types, min_priority=min_priority
        )
        v = await ex.record_directory_change(
            conn,
            "put-subscription",
            {"group": group, "source": source, "types": types, "min_priority": min_priority},
        )
    return created, v


async def delete_subscription(ex: Exchange, caller: Caller, *, group: str, source: str) -> int:
    await _require_chair(ex, caller, group)
    async with ex.directory_write() as conn:
        await dir_store.delete_subscription(conn, group=group, source=source)
        return await ex.record_directory_change(
            conn, "delete-subscription", {"group": group, "source": source}
        )


async def _require_not_removed(conn: Any, party: str) -> None:
    if await status_store.party_status(conn, party) == "removed":
        raise Conflict(f"party {party} was removed; removal is final")


async def set_party_status(ex: Exchange, caller: Caller, *, party: str, status: str) -> int:
    """Suspend (``suspended``) or resume (``active``) a party: while suspended its clients
    are refused; what is addressed to it is kept for when it resumes."""
    caller.require("admin")
    if party == caller.party:
        raise Conflict("the exchange operator's own party cannot be suspended")
    async with ex.directory_write() as conn:
        await status_store.set_party_status(conn, party, status)
        pending = await status_store.pending_deliveries(conn, party)
        op = "suspend-party" if status == "suspended" else "resume-party"
        return await ex.record_directory_change(
            conn, op, {"party": party, "pending_deliveries": pending}
        )


async def remove_party(ex: Exchange, caller: Caller, *, party: str) -> tuple[dict[str, Any], int]:
    caller.require("admin")
    async with ex.directory_write() as conn:
        changes = await status_store.remove_party(conn, party, operator=caller.party)
        v = await ex.record_directory_change(conn, "remove-party", {"party": party, **changes})
    return changes, v


async def set_client_status(
    ex: Exchange, caller: Caller, *, client_id: str, status: str
) -> tuple[str, int]:
    """Suspend or resume one client (a desk); its party's other clients are unaffected."""
    caller.require("admin")
    async with ex.directory_write() as conn:
        row = await status_store.set_client_status(conn, client_id, status)
        if status == "active":
            await _require_not_removed(conn, row.party)
        op = "suspend-client" if status == "suspended" else "resume-client"
        v = await ex.record_directory_change(conn, op, {"client": client_id, "kid": row.kid})
    return row.kid, v


async def remove_client(ex: Exchange, caller: Caller, *, client_id: str) -> tuple[str, int]:
    """Revoke a client's signing key for good (its past bulletins stay in the log)."""
    caller.require("admin")
    async with ex.directory_write() as conn:
        row = await status_store.set_client_status(conn, client_id, "revoked")
        v = await ex.record_directory_change(
            conn, "remove-client", {"client": client_id, "kid": row.kid}
        )
    return row.kid, v


async def remove_group(ex: Exchange, caller: Caller, *, group: str) -> tuple[dict[str, Any], int]:
    caller.require("admin")
    async with ex.directory_write() as conn:
        changes = await status_store.remove_group(conn, group)
        v = await ex.record_directory_change(conn, "remove-group", {"group": group, **changes})
    return changes, v
