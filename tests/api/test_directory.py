"""PROTOCOL §7: the directory is a JWS of kind ``avsec-directory+jws`` signed with the
key served at ``/v1/server-key``; it lists parties, clients (signing keys, roles,
status), encryption keys with their status, groups and members; its version only grows,
by one for each admin change, also when changes race."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from api._kit import Caller, World, assert_problem
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from exchange.crypto import b64u_decode, b64u_encode
from exchange.crypto.keys import EncryptionPrivateKey

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: The contract's Ed25519 server key, checked with jwcrypto (issue 20: `exchange init
#: --ed25519`); the hybrid server key is covered by tests/integration/test_hardware_keys.py.
SERVER_SIGNING = "ed25519"


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638, computed here and not by the code under test."""
    members = {k: jwk[k] for k in ("crv", "kty", "x")}
    text = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64u_encode(hashlib.sha256(text.encode()).digest())


class Cast:
    """The parties, clients, keys and groups of the module's directory."""

    kz_ops: Caller
    kz_desk: Caller
    kz_gone: Caller
    kz_keys: list[EncryptionPrivateKey]
    icao_key: EncryptionPrivateKey


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(world: World) -> AsyncIterator[Cast]:
    w = world
    c = Cast()
    await w.party("KZ", name="Civil Aviation Committee of Kazakhstan")
    await w.party("UZ")
    await w.party("ICAO", kind="organization", name="ICAO Secretariat")
    await w.party("TA-FEED", kind="feed", name="Threat feed")
    c.kz_ops = await w.client("KZ", "ops", ("poster", "reader"))
    c.kz_desk = await w.client("KZ", "desk", ("reader",))
    c.kz_gone = await w.client("KZ", "gone", ("poster",))
    r = await w.wire.call(w.admin, "POST", f"/v1/admin/keys/{c.kz_gone.signer.kid}/revoke")
    assert r.status == 200
    c.kz_keys = [EncryptionPrivateKey.generate("x25519"), EncryptionPrivateKey.generate("hybrid")]
    c.icao_key = EncryptionPrivateKey.generate("hybrid")
    for party, key in (("KZ", c.kz_keys[0]), ("KZ", c.kz_keys[1]), ("ICAO", c.icao_key)):
        path = f"/v1/admin/parties/{party}/encryption-keys"
        assert (
            await w.wire.call(w.admin, "POST", path, {"jwk": key.public.to_jwk()})
        ).status == 201
    await w.group("cac-avsec", {"KZ": "chair", "UZ": "member", "ICAO": "observer"})
    r = await w.wire.call(
        c.kz_ops,
        "PUT",
        "/v1/groups/cac-avsec/subscriptions/TA-FEED",
        {"types": ["threat-assessment"], "min_priority": "priority"},
    )
    assert r.status == 201, r.raw
    yield c


async def _signed(w: World, who: Caller) -> tuple[str, dict[str, Any], dict[str, Any]]:
    r = await w.wire.call(who, "GET", "/v1/directory")
    assert r.status == 200, r.raw
    assert set(r.data) == {"directory"}
    tok = r.data["directory"]
    h64, p64, _ = tok.split(".")
    return tok, json.loads(b64u_decode(h64)), json.loads(b64u_decode(p64))


async def test_server_key_is_the_public_jwk_itself(world: World, cast: Cast) -> None:
    r = await world.wire.send("GET", "/v1/server-key")
    assert r.status == 200 and r.content_type == "application/json"
    jwk = r.data
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert set(jwk) <= {"kty", "crv", "x", "kid", "alg", "use"}, "no private member"
    assert jwk.get("alg", "EdDSA") == "EdDSA"
    assert jwk["kid"] == _thumbprint(jwk)
    assert jwk["kid"] == world.h.admin.server_kid  # what `exchange init` pinned
    assert len(b64u_decode(jwk["x"])) == 32


async def test_directory_is_a_jws_signed_by_the_server_key(world: World, cast: Cast) -> None:
    server = (await world.wire.send("GET", "/v1/server-key")).data
    tok, header, _ = await _signed(world, cast.kz_desk)
    assert header == {"alg": "EdDSA", "kid": server["kid"], "typ": "avsec-directory+jws"}

    h64, p64, s64 = tok.split(".")
    key = ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(server["x"]))
    key.verify(b64u_decode(s64), f"{h64}.{p64}".encode())

    # an independent JOSE library agrees
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(tok)
    verifier.verify(jwcrypto_jwk.JWK(**server), alg="EdDSA")

    # ... and the signature covers the payload: one changed byte fails
    payload = bytearray(b64u_decode(p64))
    payload[payload.index(b"KZ")] = ord("X")
    with pytest.raises(InvalidSignature):
        key.verify(b64u_decode(s64), f"{h64}.{b64u_encode(bytes(payload))}".encode())
    # no client key (here the admin's) verifies it
    admin_key = ed25519.Ed25519PublicKey.from_public_bytes(world.admin.signer.public.raw)
    with pytest.raises(InvalidSignature):
        admin_key.verify(b64u_decode(s64), f"{h64}.{p64}".encode())


async def test_directory_needs_a_valid_token(world: World, cast: Cast) -> None:
    assert_problem(await world.wire.send("GET", "/v1/directory"), 401, "unauthorized")
    assert_problem(await world.wire.call(cast.kz_gone, "GET", "/v1/directory"), 401, "unauthorized")


async def test_directory_lists_parties_clients_keys_groups(world: World, cast: Cast) -> None:
    _, _, doc = await _signed(world, cast.kz_ops)
    assert doc["exchange_id"] == world.wire.aud
    assert isinstance(doc["version"], int) and doc["version"] > 0

    parties = {p["id"]: p for p in doc["parties"]}
    assert parties["KZ"] == {
        "id": "KZ",
        "name": "Civil Aviation Committee of Kazakhstan",
        "kind": "state",
    }
    assert parties["ICAO"]["kind"] == "organization"
    assert parties["TA-FEED"]["kind"] == "feed"
    assert world.admin.party in parties

    clients = {c["id"]: c for c in doc["clients"]}
    assert clients["KZ/ops"] == {
        "id": "KZ/ops",
        "party": "KZ",
        "kid": cast.kz_ops.signer.kid,
        "roles": ["poster", "reader"],
        "status": "active",
        "jwk": cast.kz_ops.signer.public.to_jwk(),
    }
    assert clients["KZ/desk"]["roles"] == ["reader"]
    assert clients["KZ/gone"]["status"] == "revoked"
    assert clients[world.admin.client_id]["roles"] == ["admin"]
    for c in doc["clients"]:
        assert "d" not in c["jwk"]
        assert c["kid"] == _thumbprint(c["jwk"]) == c["jwk"]["kid"]

    keys = {k["kid"]: k for k in doc["encryption_keys"]}
    old, new = cast.kz_keys
    assert keys[old.kid] == {
        "kid": old.kid,
        "party": "KZ",
        "alg": "ECDH-ES+A256KW",
        "status": "retired",
        "jwk": old.public.to_jwk(),
    }
    assert keys[new.kid]["status"] == "active"
    assert keys[new.kid]["alg"] == "HPKE-MLKEM768X25519"
    assert keys[new.kid]["jwk"] == new.public.to_jwk()
    assert keys[cast.icao_key.kid]["party"] == "ICAO"
    for k in doc["encryption_keys"]:
        assert not {"d", "x25519_d", "mlkem768_d"} & set(k["jwk"])

    groups = {g["id"]: g for g in doc["groups"]}
    cac = groups["cac-avsec"]
    assert cac["name"] == "cac-avsec"
    assert {m["party"]: m["role"] for m in cac["members"]} == {
        "KZ": "chair",
        "UZ": "member",
        "ICAO": "observer",
    }
    assert cac["subscriptions"] == [
        {"source": "TA-FEED", "types": ["threat-assessment"], "min_priority": "priority"}
    ]


async def test_every_client_sees_the_same_document(world: World, cast: Cast) -> None:
    docs = [(await _signed(world, who))[2] for who in (cast.kz_ops, cast.kz_desk, world.admin)]
    assert docs[0] == docs[1] == docs[2]


async def test_version_grows_by_one_with_each_admin_change(world: World, cast: Cast) -> None:
    w = world
    version = await w.version()
    key = EncryptionPrivateKey.generate("x25519")
    spare = EncryptionPrivateKey.generate("x25519")
    from exchange.crypto.keys import Ed25519Signer

    changes: list[tuple[Caller, str, str, Any]] = [
        (w.admin, "POST", "/v1/admin/parties", {"id": "VG", "name": "v", "kind": "state"}),
        (
            w.admin,
            "POST",
            "/v1/admin/clients",
            {
                "id": "VG/ops",
                "party": "VG",
                "roles": ["reader"],
                "jwk": Ed25519Signer.generate().public.to_jwk(),
            },
        ),
        (w.admin, "POST", "/v1/admin/parties/VG/encryption-keys", {"jwk": key.public.to_jwk()}),
        (w.admin, "POST", "/v1/admin/parties/VG/encryption-keys", {"jwk": spare.public.to_jwk()}),
        (w.admin, "POST", f"/v1/admin/keys/{key.kid}/revoke", None),
        (w.admin, "POST", "/v1/admin/groups", {"id": "vg-group", "name": "v"}),
        (w.admin, "PUT", "/v1/admin/groups/vg-group/members/VG", {"role": "member"}),
        (w.admin, "PUT", "/v1/admin/groups/vg-group/members/VG", {"role": "chair"}),
        (w.admin, "PUT", "/v1/groups/vg-group/subscriptions/KZ", {"types": None}),
        (w.admin, "PUT", "/v1/groups/vg-group/subscriptions/KZ", {"min_priority": "flash"}),
        (w.admin, "DELETE", "/v1/groups/vg-group/subscriptions/KZ", None),
        (w.admin, "DELETE", "/v1/admin/groups/vg-group/members/VG", None),
        (cast.kz_ops, "PUT", "/v1/groups/cac-avsec/subscriptions/VG", {"types": None}),
        (cast.kz_ops, "DELETE", "/v1/groups/cac-avsec/subscriptions/VG", None),
    ]
    for who, method, path, body in changes:
        r = await w.wire.call(who, method, path, body)
        assert r.status in (200, 201), (method, path, r.raw)
        assert r.data["version"] == version + 1, (method, path)
        version += 1
        assert await w.version() == version

    # refused or failed changes, and reads, leave it alone
    failures: list[tuple[Caller, str, str, Any, int]] = [
        (w.admin, "POST", "/v1/admin/parties", {"id": "VG", "name": "v", "kind": "state"}, 409),
        (w.admin, "POST", "/v1/admin/groups", {"id": "vg-group", "name": "again"}, 409),
        (w.admin, "DELETE", "/v1/admin/groups/vg-group/members/VG", None, 404),
        (w.admin, "POST", "/v1/admin/keys/no-such-kid/revoke", None, 404),
        (w.admin, "PUT", "/v1/admin/groups/vg-group/members/VG", {"role": "king"}, 400),
        (cast.kz_ops, "POST", "/v1/admin/groups", {"id": "x-group", "name": "x"}, 403),
        (cast.kz_desk, "GET", "/v1/groups/cac-avsec/subscriptions", None, 200),
        (cast.kz_desk, "GET", "/v1/directory", None, 200),
    ]
    for who, method, path, body, status in failures:
        r = await w.wire.call(who, method, path, body)
        assert r.status == status, (method, path, r.raw)
        assert await w.version() == version, (method, path)


async def test_concurrent_changes_get_distinct_consecutive_versions(
    world: World, cast: Cast
) -> None:
    w = world
    start = await w.version()
    n = 10
    replies = await asyncio.gather(
        *(
            w.wire.call(w.admin, "POST", "/v1/admin/groups", {"id": f"race-{i}", "name": "r"})
            for i in range(n)
        )
    )
    assert [r.status for r in replies] == [201] * n
    versions = sorted(r.data["version"] for r in replies)
    assert versions == list(range(start + 1, start + n + 1))
    assert await w.version() == start + n


async def test_concurrent_membership_puts_all_succeed(world: World, cast: Cast) -> None:
    """Several operators adding the same member at once: each is told 200, the member
    is there once, and no request fails with a database error."""
    w = world
    await w.party("RM")
    await w.group("race-members", {})
    replies = await asyncio.gather(
        *(
            w.wire.call(w.admin, "PUT", "/v1/admin/groups/race-members/members/RM", {"role": r})
            for r in ("member", "observer", "member", "chair", "member", "observer")
        )
    )
    assert [r.status for r in replies] == [200] * 6, [r.raw for r in replies if r.status != 200]
    doc = await w.directory()
    group = next(g for g in doc["groups"] if g["id"] == "race-members")
    assert len(group["members"]) == 1 and group["members"][0]["party"] == "RM"


async def test_directory_version_is_logged_with_its_digest(world: World, cast: Cast) -> None:
    """The signed directory names the audit entry that recorded it (PROTOCOL §8), and
    that entry holds the digest of exactly this document."""
    _, _, doc = await _signed(world, cast.kz_ops)
    index = doc["log_index"]
    r = await world.wire.call(
        cast.kz_ops, "GET", f"/v1/audit/entries?start={index}&end={index + 1}"
    )
    assert r.status == 200, r.raw
    [entry] = r.data["entries"]
    leaf = json.loads(b64u_decode(entry["leaf"]))
    assert leaf["kind"] == "directory"
    assert leaf["version"] == doc["version"]
    body = {k: v for k, v in doc.items() if k != "log_index"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert leaf["digest"] == b64u_encode(hashlib.sha256(canonical.encode()).digest())
