"""PROTOCOL §2: key registration through the admin API refuses every malformed key,
private members, the wrong kind of key, and small-order points; a key is registered
once; a new encryption key retires the party's previous one in the signed directory."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from api._kit import World, assert_problem, compact, token
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from exchange.crypto import b64u_encode
from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey

pytestmark = pytest.mark.asyncio(loop_scope="module")

_ids = itertools.count()

# RFC 8032 encodings of the eight points of order 1, 2, 4 and 8 (canonical), and
# non-canonical encodings of some of them (y >= p, or x = 0 with the sign bit set).
# OpenSSL accepts every one of them as an Ed25519 public key.
ED25519_SMALL_ORDER = {
    "identity": "0100000000000000000000000000000000000000000000000000000000000000",
    "order-2": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "order-4-a": "0000000000000000000000000000000000000000000000000000000000000000",
    "order-4-b": "0000000000000000000000000000000000000000000000000000000000000080",
    "order-8-a": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "order-8-b": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "order-8-c": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "order-8-d": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "identity-y=p+1": "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "order-4-y=p": "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "identity-with-sign-bit": "0100000000000000000000000000000000000000000000000000000000000080",
    "order-2-with-sign-bit": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

# X25519 u-coordinates of small order on the curve or its twist, canonical and not
# (the list libsodium refuses). OpenSSL accepts them as public keys.
X25519_SMALL_ORDER = {
    "u=0": "0000000000000000000000000000000000000000000000000000000000000000",
    "u=1": "0100000000000000000000000000000000000000000000000000000000000000",
    "order-8-a": "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "order-8-b": "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "u=p-1": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "u=p": "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "u=p+1": "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "order-8-a+p": "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
    "order-8-b+p": "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
    "u=2p-1": "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "u=2p": "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "u=2p+1": "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

IDENTITY_X = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def _okp(crv: str, x: bytes | str, **extra: Any) -> dict[str, Any]:
    return {"kty": "OKP", "crv": crv, "x": x if isinstance(x, str) else b64u_encode(x), **extra}


def _ed(**extra: Any) -> dict[str, Any]:
    return _okp("Ed25519", Ed25519Signer.generate().public.raw, **extra)


def _noncanonical(raw: bytes) -> str:
    """The same bytes with non-zero unused bits in the last base64url character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    text = b64u_encode(raw)
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def _with_private(kind: str) -> dict[str, Any]:
    if kind == "ed25519":
        return Ed25519Signer.generate().to_private_jwk()
    return EncryptionPrivateKey.generate(kind).to_private_jwk()  # type: ignore[arg-type]


BAD_SIGNING: dict[str, Callable[[], Any]] = {
    "absent": lambda: ...,
    "null": lambda: None,
    "string": lambda: "OKP Ed25519",
    "list": lambda: [_ed()],
    "number": lambda: 25519,
    "empty-object": lambda: {},
    "kty-missing": lambda: {k: v for k, v in _ed().items() if k != "kty"},
    "kty-EC": lambda: {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(bytes(32)),
        "y": b64u_encode(bytes(32)),
    },
    "kty-RSA": lambda: {"kty": "RSA", "n": b64u_encode(b"\xc1" * 256), "e": "AQAB"},
    "kty-oct": lambda: {"kty": "oct", "k": b64u_encode(b"secret" * 6)},
    "kty-lowercase": lambda: {**_ed(), "kty": "okp"},
    "crv-missing": lambda: {k: v for k, v in _ed().items() if k != "crv"},
    "crv-X25519-encryption-key": lambda: EncryptionPrivateKey.generate("x25519").public.to_jwk(),
    "crv-Ed448": lambda: _okp("Ed448", bytes(57)),
    "crv-P-256": lambda: {**_ed(), "crv": "P-256"},
    "x-missing": lambda: {"kty": "OKP", "crv": "Ed25519"},
    "x-number": lambda: {"kty": "OKP", "crv": "Ed25519", "x": 7},
    "x-empty": lambda: _okp("Ed25519", ""),
    "x-31-bytes": lambda: _okp("Ed25519", Ed25519Signer.generate().public.raw[:31]),
    "x-33-bytes": lambda: _okp("Ed25519", Ed25519Signer.generate().public.raw + b"\x00"),
    "x-padded": lambda: _okp("Ed25519", b64u_encode(Ed25519Signer.generate().public.raw) + "="),
    "x-standard-base64": lambda: _okp("Ed25519", "+/" + "A" * 41),
    "x-noncanonical-base64": lambda: _okp(
        "Ed25519", _noncanonical(Ed25519Signer.generate().public.raw)
    ),
    "x-hex": lambda: _okp("Ed25519", Ed25519Signer.generate().public.raw.hex()),
    "private-d": lambda: _with_private("ed25519"),
    "alg-ES256": lambda: _ed(alg="ES256"),
    "alg-none": lambda: _ed(alg="none"),
    "use-enc": lambda: _ed(use="enc"),
    "kid-not-thumbprint": lambda: _ed(kid="my-own-choice"),
    "kid-of-another-key": lambda: _ed(kid=Ed25519Signer.generate().kid),
    "key-ops-not-a-list": lambda: _ed(key_ops="verify"),
    **{
        f"small-order-{name}": (lambda h=h: _okp("Ed25519", bytes.fromhex(h)))
        for name, h in ED25519_SMALL_ORDER.items()
    },
}


def _hyb(x: bytes | None = None, m: bytes | None = None, **extra: Any) -> dict[str, Any]:
    jwk = EncryptionPrivateKey.generate("hybrid").public.to_jwk()
    del jwk["kid"]
    if x is not None:
        jwk["x25519"] = b64u_encode(x)
    if m is not None:
        jwk["mlkem768"] = b64u_encode(m)
    jwk.update(extra)
    return {k: v for k, v in jwk.items() if v is not None}


def _x(**extra: Any) -> dict[str, Any]:
    return _okp(
        "X25519", x25519.X25519PrivateKey.generate().public_key().public_bytes_raw(), **extra
    )


_MLKEM_PUB = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()

BAD_ENCRYPTION: dict[str, Callable[[], Any]] = {
    "absent": lambda: ...,
    "null": lambda: None,
    "string": lambda: "X25519",
    "kty-missing": lambda: {k: v for k, v in _x().items() if k != "kty"},
    "kty-EC": lambda: {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(bytes(32)),
        "y": b64u_encode(bytes(32)),
    },
    "kty-RSA": lambda: {"kty": "RSA", "n": b64u_encode(b"\xc1" * 256), "e": "AQAB"},
    "crv-Ed25519-signing-key": lambda: Ed25519Signer.generate().public.to_jwk(),
    "crv-X448": lambda: _okp("X448", bytes(56)),
    "x25519-31-bytes": lambda: _okp("X25519", bytes(range(1, 32))),
    "x25519-33-bytes": lambda: _okp("X25519", bytes(range(1, 34))),
    "x25519-private-d": lambda: _with_private("x25519"),
    "x25519-alg-ECDH-ES": lambda: _x(alg="ECDH-ES"),
    "x25519-alg-hybrid": lambda: _x(alg="HPKE-MLKEM768X25519"),
    "x25519-use-sig": lambda: _x(use="sig"),
    "x25519-kid-not-thumbprint": lambda: _x(kid="mine"),
    **{
        f"x25519-small-order-{name}": (lambda h=h: _okp("X25519", bytes.fromhex(h)))
        for name, h in X25519_SMALL_ORDER.items()
    },
    "hybrid-x25519-31-bytes": lambda: _hyb(x=bytes(range(1, 32))),
    "hybrid-x25519-33-bytes": lambda: _hyb(x=bytes(range(1, 34))),
    "hybrid-x25519-missing": lambda: _hyb(x25519=None),
    "hybrid-mlkem768-1183-bytes": lambda: _hyb(m=_MLKEM_PUB[:-1]),
    "hybrid-mlkem768-1185-bytes": lambda: _hyb(m=_MLKEM_PUB + b"\x00"),
    "hybrid-mlkem768-empty": lambda: _hyb(m=b""),
    "hybrid-mlkem768-1568-bytes-mlkem1024-size": lambda: _hyb(m=bytes(1568)),
    "hybrid-mlkem768-missing": lambda: _hyb(mlkem768=None),
    "hybrid-mlkem768-out-of-range": lambda: _hyb(m=b"\xff" * 1184),
    "hybrid-alg-missing": lambda: _hyb(alg=None),
    "hybrid-alg-x25519": lambda: _hyb(alg="ECDH-ES+A256KW"),
    "hybrid-kty-lowercase": lambda: _hyb(kty="avsec-hyb"),
    "hybrid-private-members": lambda: _with_private("hybrid"),
    "hybrid-private-d": lambda: _hyb(d=b64u_encode(bytes(32))),
    "hybrid-kid-not-thumbprint": lambda: _hyb(kid="mine"),
    "hybrid-x25519-small-order-u=0": lambda: _hyb(x=bytes(32)),
    "hybrid-x25519-small-order-8": lambda: _hyb(x=bytes.fromhex(X25519_SMALL_ORDER["order-8-a"])),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world_kz(world: World) -> AsyncIterator[World]:
    await world.party("KZ")
    await world.party("UZ")
    yield world


async def _register_client(
    w: World, jwk: Any, *, party: str = "KZ", roles: tuple[str, ...] = ("reader",)
) -> Any:
    body: dict[str, Any] = {"id": f"{party}/c{next(_ids)}", "party": party, "roles": list(roles)}
    if jwk is not ...:
        body["jwk"] = jwk
    return await w.wire.call(w.admin, "POST", "/v1/admin/clients", body)


async def _register_enc(w: World, jwk: Any, party: str = "KZ") -> Any:
    body = {} if jwk is ... else {"jwk": jwk}
    return await w.wire.call(w.admin, "POST", f"/v1/admin/parties/{party}/encryption-keys", body)


@pytest.mark.parametrize("case", sorted(BAD_SIGNING))
async def test_bad_signing_key_is_refused(world_kz: World, case: str) -> None:
    before = await world_kz.version()
    r = await _register_client(world_kz, BAD_SIGNING[case]())
    assert_problem(r, 400, "invalid-key")
    assert await world_kz.version() == before


@pytest.mark.parametrize("case", sorted(BAD_ENCRYPTION))
async def test_bad_encryption_key_is_refused(world_kz: World, case: str) -> None:
    before = await world_kz.version()
    r = await _register_enc(world_kz, BAD_ENCRYPTION[case]())
    assert_problem(r, 400, "invalid-key")
    assert await world_kz.version() == before


async def test_good_keys_of_each_kind_are_accepted(world_kz: World) -> None:
    """The tables above fail on their flaw alone: the same shapes, well made, pass."""
    w = world_kz
    signer = Ed25519Signer.generate()
    r = await _register_client(w, signer.public.to_jwk())
    assert r.status == 201, r.raw
    assert r.data["kid"] == signer.kid
    bare = {k: v for k, v in signer.public.to_jwk().items() if k in ("kty", "crv", "x")}
    r = await _register_client(w, {**bare, "x": b64u_encode(Ed25519Signer.generate().public.raw)})
    assert r.status == 201, r.raw
    for kind in ("x25519", "hybrid"):
        key = EncryptionPrivateKey.generate(kind)  # type: ignore[arg-type]
        r = await _register_enc(w, key.public.to_jwk(), "UZ")
        assert r.status == 201, r.raw
        assert r.data["kid"] == key.kid


async def test_identity_point_key_would_forge_but_cannot_be_registered(world_kz: World) -> None:
    """The identity point as a public key, with the signature (R = identity, S = 0),
    verifies *any* message under OpenSSL. Registering it would let anyone act as that
    client. The server refuses the key, so no token can name it."""
    raw = bytes.fromhex(ED25519_SMALL_ORDER["identity"])
    assert b64u_encode(raw) == IDENTITY_X
    forged_sig = raw + bytes(32)
    lib_key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    for message in (b"any message", b"POST /v1/admin/clients"):
        lib_key.verify(forged_sig, message)  # the danger is real: no exception

    w = world_kz
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": IDENTITY_X}
    r = await _register_client(w, jwk, roles=("admin",), party=w.admin.party)
    assert_problem(r, 400, "invalid-key")
    r = await _register_client(w, {**jwk, "alg": "EdDSA"})
    assert_problem(r, 400, "invalid-key")
    doc = await w.directory()
    assert all(c["jwk"].get("x") != IDENTITY_X for c in doc["clients"])

    # a token "signed" by the identity key is refused, whatever kid it names
    thumb = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": IDENTITY_X}, separators=(",", ":"))
    from hashlib import sha256

    identity_kid = b64u_encode(sha256(thumb.encode()).digest())
    claims_tok = token(
        Ed25519Signer.generate(),
        w.admin.client_id,
        aud=w.wire.aud,
        method="GET",
        path="/v1/directory",
    )
    _, payload, _ = claims_tok.split(".")
    from exchange.crypto import b64u_decode

    for kid in (identity_kid, w.admin.signer.kid):
        header = {"alg": "EdDSA", "typ": "avsec-req+jwt", "kid": kid}
        for sig in (forged_sig, bytes(64)):
            forged = compact(header, b64u_decode(payload), signature=sig)
            r = await w.wire.send("GET", "/v1/directory", bearer=forged)
            assert_problem(r, 401, "unauthorized")


async def test_duplicate_signing_key_is_409(world_kz: World) -> None:
    w = world_kz
    jwk = Ed25519Signer.generate().public.to_jwk()
    assert (await _register_client(w, jwk)).status == 201
    before = await w.version()
    assert_problem(await _register_client(w, jwk), 409, "conflict")
    assert_problem(await _register_client(w, jwk, party="UZ"), 409, "conflict")
    # the same key written differently (no kid, no alg) is still the same key
    bare = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
    assert_problem(await _register_client(w, bare, party="UZ"), 409, "conflict")
    # the operator's own admin key cannot be registered to another client either
    assert_problem(await _register_client(w, w.admin.signer.public.to_jwk()), 409, "conflict")
    assert await w.version() == before


async def test_duplicate_client_id_is_409(world_kz: World) -> None:
    w = world_kz
    body = {
        "id": "KZ/twice",
        "party": "KZ",
        "roles": ["reader"],
        "jwk": Ed25519Signer.generate().public.to_jwk(),
    }
    assert (await w.wire.call(w.admin, "POST", "/v1/admin/clients", body)).status == 201
    body["jwk"] = Ed25519Signer.generate().public.to_jwk()
    r = await w.wire.call(w.admin, "POST", "/v1/admin/clients", body)
    assert_problem(r, 409, "conflict")


async def test_duplicate_encryption_key_is_409(world_kz: World) -> None:
    w = world_kz
    await w.party("DK")
    await w.party("DL")
    jwk = EncryptionPrivateKey.generate("x25519").public.to_jwk()
    assert (await _register_enc(w, jwk, "DK")).status == 201
    before = await w.version()
    assert_problem(await _register_enc(w, jwk, "DK"), 409, "conflict")
    assert_problem(await _register_enc(w, jwk, "DL"), 409, "conflict")
    assert await w.version() == before
    doc = await w.directory()
    mine = [k for k in doc["encryption_keys"] if k["party"] in ("DK", "DL")]
    assert [(k["party"], k["status"]) for k in mine] == [("DK", "active")]


async def test_encryption_key_for_unknown_party_is_404(world_kz: World) -> None:
    r = await _register_enc(
        world_kz, EncryptionPrivateKey.generate("x25519").public.to_jwk(), "NOPE"
    )
    assert_problem(r, 404, "not-found")


async def test_rotation_retires_the_previous_key_in_the_signed_directory(
    world_kz: World,
) -> None:
    w = world_kz
    await w.party("RO")
    keys = [EncryptionPrivateKey.generate(k) for k in ("hybrid", "x25519", "hybrid")]  # type: ignore[arg-type]

    def statuses(doc: dict[str, Any]) -> list[tuple[str, str]]:
        return [(k["kid"], k["status"]) for k in doc["encryption_keys"] if k["party"] == "RO"]

    versions = []
    for i, key in enumerate(keys):
        r = await _register_enc(w, key.public.to_jwk(), "RO")
        assert r.status == 201, r.raw
        assert r.data["status"] == "active" and r.data["kid"] == key.kid
        versions.append(r.data["version"])
        doc = await w.directory()
        assert doc["version"] == r.data["version"]
        expect = [(k.kid, "retired") for k in keys[:i]] + [(key.kid, "active")]
        assert sorted(statuses(doc)) == sorted(expect)
        active = [
            k for k in doc["encryption_keys"] if k["party"] == "RO" and k["status"] == "active"
        ]
        assert len(active) == 1 and active[0]["jwk"] == key.public.to_jwk()
        assert active[0]["alg"] == key.alg
    assert versions == sorted(versions) and len(set(versions)) == 3

    # revoking the active key leaves the party without one; the next key is active and
    # the revoked one stays revoked (never "retired" again)
    r = await w.wire.call(w.admin, "POST", f"/v1/admin/keys/{keys[2].kid}/revoke")
    assert r.status == 200
    doc = await w.directory()
    assert dict(statuses(doc))[keys[2].kid] == "revoked"
    assert "active" not in dict(statuses(doc)).values()
    fresh = EncryptionPrivateKey.generate("x25519")
    assert (await _register_enc(w, fresh.public.to_jwk(), "RO")).status == 201
    final = dict(statuses(await w.directory()))
    assert final == {
        keys[0].kid: "retired",
        keys[1].kid: "retired",
        keys[2].kid: "revoked",
        fresh.kid: "active",
    }
    # a retired key cannot come back by registering it again
    assert_problem(await _register_enc(w, keys[0].public.to_jwk(), "RO"), 409, "conflict")
    # rotating RO's key touched no other party's
    others = [k for k in (await w.directory())["encryption_keys"] if k["party"] == "UZ"]
    assert [k["status"] for k in others].count("active") == 1


async def test_concurrent_rotations_leave_one_active_key(world_kz: World) -> None:
    """PROTOCOL §1: a party has at most one active encryption key, also when two
    operators register keys at the same moment."""
    import asyncio

    w = world_kz
    await w.party("RC")
    keys = [EncryptionPrivateKey.generate("x25519") for _ in range(6)]
    replies = await asyncio.gather(*(_register_enc(w, k.public.to_jwk(), "RC") for k in keys))
    assert [r.status for r in replies] == [201] * len(keys)
    doc = await w.directory()
    mine = [k["status"] for k in doc["encryption_keys"] if k["party"] == "RC"]
    assert sorted(mine) == ["active"] + ["retired"] * (len(keys) - 1)
