"""Directory queries (store/directory.py, parties.py, groups.py, directory_status.py,
signing_policy.py), run through the one transaction API on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from exchange.errors import Conflict, NotFound
from exchange.store import directory as dir_store
from exchange.store import directory_status as status_store
from exchange.store import groups as group_store
from exchange.store import parties as party_store
from exchange.store import signing_policy as policy_store
from exchange.store.db import Database

JWK = {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}


def _client(conn: Connection, cid: str, kid: str, roles: set[str]) -> None:
    party_store.add_client(
        conn, id=cid, party=cid.split("/")[0], kid=kid, jwk=JWK, roles=frozenset(roles), now=1
    )


def _world(conn: Connection) -> None:
    for p in ("OP", "KZ", "UZ"):
        party_store.add_party(conn, id=p, name=f"{p} name", kind="state", now=1)
    _client(conn, "OP/admin", "kid-op", {"admin"})
    _client(conn, "KZ/ops", "kid-kz", {"poster", "reader"})
    group_store.add_group(conn, id="g", name="G", now=1)
    group_store.set_member(conn, group="g", party="KZ", role="chair")


async def test_parties_and_clients(db: Database) -> None:
    await db.run_write(_world)
    row = await db.run_read(lambda c: party_store.client_by_kid(c, "kid-kz"))
    assert row is not None
    assert (row.id, row.party, row.roles, row.status, row.party_status) == (
        "KZ/ops",
        "KZ",
        frozenset({"poster", "reader"}),
        "active",
        "active",
    )
    assert row.refusal is None and not row.hybrid_required
    assert await db.run_read(lambda c: party_store.client_by_id(c, "KZ/ops")) is not None
    assert await db.run_read(lambda c: party_store.party_exists(c, "UZ"))
    assert not await db.run_read(lambda c: party_store.party_exists(c, "XX"))
    with pytest.raises(Conflict, match="party KZ already exists"):
        await db.run_write(
            lambda c: party_store.add_party(c, id="KZ", name="again", kind="state", now=2)
        )
    with pytest.raises(Conflict, match="already registered"):
        await db.run_write(lambda c: _client(c, "KZ/other", "kid-kz", {"reader"}))
    with pytest.raises(NotFound):
        await db.run_write(lambda c: _client(c, "XX/ops", "kid-xx", {"reader"}))


async def test_a_conflict_rolls_back_the_whole_change(db: Database) -> None:
    await db.run_write(_world)

    def two(conn: Connection) -> None:
        party_store.add_party(conn, id="KG", name="KG", kind="state", now=2)
        party_store.add_party(conn, id="KZ", name="dup", kind="state", now=2)

    with pytest.raises(Conflict):
        await db.run_write(two)
    assert not await db.run_read(lambda c: party_store.party_exists(c, "KG"))


async def test_encryption_keys_rotate_and_revoke(db: Database) -> None:
    await db.run_write(_world)

    first = await db.run_write(
        lambda c: party_store.add_enc_key(c, party="UZ", kid="e1", alg="x", jwk=JWK, now=1)
    )
    second = await db.run_write(
        lambda c: party_store.add_enc_key(c, party="UZ", kid="e2", alg="x", jwk=JWK, now=2)
    )
    assert (first, second) == (None, "e1")
    assert (await db.run_read(lambda c: party_store.enc_key_by_kid(c, "e1"))).status == "retired"
    assert await db.run_write(lambda c: party_store.revoke_key(c, "e2")) == ("encryption", "UZ")
    with pytest.raises(Conflict, match="already revoked"):
        await db.run_write(lambda c: party_store.revoke_key(c, "e2"))
    with pytest.raises(NotFound):
        await db.run_write(lambda c: party_store.revoke_key(c, "nope"))


async def test_the_last_admin_key_cannot_be_revoked(db: Database) -> None:
    await db.run_write(_world)
    with pytest.raises(Conflict, match="last active admin"):
        await db.run_write(lambda c: party_store.revoke_key(c, "kid-op"))
    await db.run_write(lambda c: _client(c, "OP/second", "kid-op2", {"admin"}))
    assert await db.run_write(lambda c: party_store.revoke_key(c, "kid-op")) == (
        "signing",
        "OP/admin",
    )
    row = await db.run_read(lambda c: party_store.client_by_kid(c, "kid-op"))
    assert row is not None and row.refusal == "key revoked"


async def test_groups_members_and_subscriptions(db: Database) -> None:
    await db.run_write(_world)
    assert await db.run_read(lambda c: group_store.member_role(c, "g", "KZ")) == "chair"
    await db.run_write(lambda c: group_store.set_member(c, group="g", party="KZ", role="member"))
    assert await db.run_read(lambda c: group_store.member_role(c, "g", "KZ")) == "member"
    with pytest.raises(NotFound):
        await db.run_write(lambda c: group_store.set_member(c, group="h", party="KZ", role="x"))

    created = await db.run_write(
        lambda c: group_store.put_subscription(
            c, group="g", source="UZ", types=["b", "a"], min_priority=None
        )
    )
    replaced = await db.run_write(
        lambda c: group_store.put_subscription(
            c, group="g", source="UZ", types=None, min_priority="urgent"
        )
    )
    assert (created, replaced) == (True, False)
    subs = await db.run_read(lambda c: group_store.subscriptions_of(c, "g"))
    assert subs == [{"group": "g", "source": "UZ", "types": None, "min_priority": "urgent"}]
    await db.run_write(lambda c: group_store.delete_subscription(c, group="g", source="UZ"))
    with pytest.raises(NotFound):
        await db.run_write(lambda c: group_store.delete_subscription(c, group="g", source="UZ"))
    await db.run_write(lambda c: group_store.remove_member(c, group="g", party="KZ"))
    with pytest.raises(NotFound):
        await db.run_write(lambda c: group_store.remove_member(c, group="g", party="KZ"))


async def test_version_digest_and_document(db: Database) -> None:
    assert await db.run_read(dir_store.version_info) == (0, "", -1)
    await db.run_write(_world)
    assert await db.run_write(dir_store.bump_version) == 1
    assert await db.run_write(dir_store.bump_version) == 2
    await db.run_write(lambda c: dir_store.record_digest(c, "d", 5))
    assert await db.run_read(dir_store.version_info) == (2, "d", 5)
    doc = await db.run_read(dir_store.load_all)
    assert doc["version"] == 2
    assert [p["id"] for p in doc["parties"]] == ["KZ", "OP", "UZ"]
    assert [c["id"] for c in doc["clients"]] == ["KZ/ops", "OP/admin"]
    assert doc["groups"][0]["members"] == [{"party": "KZ", "role": "chair"}]
    assert "require_hybrid" not in doc


async def test_signing_policy(db: Database) -> None:
    await db.run_write(_world)
    assert not await db.run_read(lambda c: policy_store.hybrid_required(c, "KZ"))
    assert await db.run_write(lambda c: policy_store.set_required(c, "KZ", True, 1))
    assert not await db.run_write(lambda c: policy_store.set_required(c, "KZ", True, 2))
    assert await db.run_read(lambda c: policy_store.hybrid_required(c, "KZ"))
    row = await db.run_read(lambda c: party_store.client_by_kid(c, "kid-kz"))
    assert row is not None and row.hybrid_required
    doc = await db.run_read(dir_store.load_all)
    assert [p.get("require_hybrid") for p in doc["parties"]] == [True, None, None]
    await db.run_write(lambda c: policy_store.set_required(c, policy_store.EXCHANGE_WIDE, True, 3))
    assert (await db.run_read(dir_store.load_all))["require_hybrid"] is True


async def test_suspend_and_remove(db: Database) -> None:
    await db.run_write(_world)
    await db.run_write(lambda c: status_store.set_party_status(c, "KZ", "suspended"))
    with pytest.raises(Conflict, match="already suspended"):
        await db.run_write(lambda c: status_store.set_party_status(c, "KZ", "suspended"))
    row = await db.run_read(lambda c: party_store.client_by_kid(c, "kid-kz"))
    assert row is not None and row.refusal == "party suspended"
    with pytest.raises(Conflict, match="last active admin"):
        await db.run_write(lambda c: status_store.set_client_status(c, "OP/admin", "suspended"))
    with pytest.raises(Conflict, match="operator's own party"):
        await db.run_write(lambda c: status_store.remove_party(c, "OP", operator="OP"))
    changes = await db.run_write(lambda c: status_store.remove_party(c, "KZ", operator="OP"))
    assert changes["clients_revoked"] == ["KZ/ops"] and changes["groups_left"] == ["g"]
    assert await db.run_read(lambda c: status_store.party_status(c, "KZ")) == "removed"
    with pytest.raises(Conflict, match="removal is final"):
        await db.run_write(lambda c: status_store.set_party_status(c, "KZ", "active"))
    assert await db.run_write(lambda c: status_store.remove_group(c, "g")) == {
        "members_removed": 0,
        "subscriptions_removed": 0,
    }
    with pytest.raises(NotFound):
        await db.run_write(lambda c: status_store.remove_group(c, "g"))
