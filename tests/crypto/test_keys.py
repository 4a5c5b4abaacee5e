"""JWK parsing (PROTOCOL §2, §9): thumbprints, malformed keys, small-order points."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from exchange.crypto import (
    ALG_HYBRID,
    ALG_X25519,
    Ed25519Signer,
    EncryptionPrivateKey,
    Signer,
    b64u_decode,
    b64u_encode,
    parse_encryption_jwk,
    parse_signing_jwk,
)
from exchange.errors import InvalidKey

# RFC 8037 Appendix A.1-A.3
VECTORS = Path(__file__).resolve().parents[1] / "vectors"

# RFC 8037 Appendix A.1: a published example key, kept with the other vectors.
RFC8037_PRIVATE = json.loads((VECTORS / "rfc8037_ed25519.json").read_text())["jwk"]
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

P = 2**255 - 19

# The eight points of small order and their non-canonical encodings (libsodium's list).
ED25519_SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]
# u-coordinates of small order on Curve25519 and its twist, canonical and not (RFC 7748 §6.1)
X25519_SMALL_ORDER = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P - 1,
    P,
    P + 1,
    2**255 - 1,
    2**255,
    2**255 + 1,
]


def _x_jwk(raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "X25519", "x": b64u_encode(raw)}


def test_rfc8037_thumbprint_and_private_key() -> None:
    signer = Ed25519Signer.from_jwk(RFC8037_PRIVATE)
    assert signer.kid == RFC8037_THUMBPRINT
    public = {k: v for k, v in RFC8037_PRIVATE.items() if k != "d"}
    assert parse_signing_jwk(public).kid == RFC8037_THUMBPRINT
    assert parse_signing_jwk({**public, "kid": RFC8037_THUMBPRINT}).raw == b64u_decode(public["x"])


def test_rfc8037_signature() -> None:
    """RFC 8037 A.4: Ed25519 is deterministic, so the signature is a known answer."""
    signer = Ed25519Signer.from_jwk(RFC8037_PRIVATE)
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    sig = signer.sign(signing_input)
    assert b64u_encode(sig) == (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    assert signer.public.verify(sig, signing_input)
    assert not signer.public.verify(sig, signing_input + b"x")


def test_signer_protocol_and_round_trip() -> None:
    signer = Ed25519Signer.generate()
    assert isinstance(signer, Signer)
    jwk = signer.to_private_jwk()
    assert set(jwk) == {"kty", "crv", "x", "d", "kid", "alg"}
    again = Ed25519Signer.from_jwk(json.loads(json.dumps(jwk)))
    assert again.kid == signer.kid
    assert again.sign(b"m") == signer.sign(b"m")
    assert parse_signing_jwk(signer.public.to_jwk()) == signer.public
    assert jwk["d"] not in repr(signer)


@pytest.mark.parametrize("hexpoint", ED25519_SMALL_ORDER)
def test_small_order_ed25519_rejected(hexpoint: str) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(bytes.fromhex(hexpoint))}
    with pytest.raises(InvalidKey):
        parse_signing_jwk(jwk)


def test_ed25519_point_not_on_curve_rejected() -> None:
    # y = 2 has no x on the curve
    raw = (2).to_bytes(32, "little")
    with pytest.raises(InvalidKey):
        parse_signing_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)})


@pytest.mark.parametrize("u", X25519_SMALL_ORDER)
def test_small_order_x25519_rejected(u: int) -> None:
    raw = (u % 2**256).to_bytes(32, "little")
    with pytest.raises(InvalidKey):
        parse_encryption_jwk(_x_jwk(raw))


def test_x25519_small_order_list_is_what_it_says() -> None:
    """Each canonical entry makes X25519 output all zeros (cryptography refuses it)."""
    probe = x25519.X25519PrivateKey.generate()
    for u in X25519_SMALL_ORDER:
        if u < P:
            with pytest.raises(ValueError):
                probe.exchange(x25519.X25519PublicKey.from_public_bytes(u.to_bytes(32, "little")))


def test_hybrid_small_order_x25519_rejected() -> None:
    jwk = EncryptionPrivateKey.generate("hybrid").public.to_jwk()
    del jwk["kid"]
    jwk["x25519"] = b64u_encode(bytes(32))
    with pytest.raises(InvalidKey):
        parse_encryption_jwk(jwk)


_ED = Ed25519Signer.generate().public.to_jwk()
_X = EncryptionPrivateKey.generate("x25519").public.to_jwk()
_H = EncryptionPrivateKey.generate("hybrid").public.to_jwk()


def _without(jwk: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in jwk.items() if k not in names}


SIGNING_BAD = {
    "not-a-dict": "OKP",
    "list": [_ED],
    "none": None,
    "kty-EC": {**_ED, "kty": "EC"},
    "crv-X25519": {**_ED, "crv": "X25519"},
    "crv-Ed448": {**_ED, "crv": "Ed448"},
    "no-x": _without(_ED, "x"),
    "x-int": {**_ED, "x": 5},
    "x-short": {**_ED, "x": _ED["x"][:-2]},
    "x-padded": {**_ED, "x": _ED["x"] + "="},
    "x-std-alphabet": {**_ED, "x": _ED["x"].replace("-", "+").replace("_", "/") + "+"},
    "private-d": {**_ED, "d": _ED["x"]},
    "wrong-kid": {**_ED, "kid": "not-the-thumbprint"},
    "kid-int": {**_ED, "kid": 1},
    "alg-ES256": {**_ED, "alg": "ES256"},
    "use-enc": {**_ED, "use": "enc"},
    "unknown-member": {**_ED, "x5c": ["AAAA"]},
    "key_ops-str": {**_ED, "key_ops": "verify"},
    "non-str-key": {**_ED, 1: "x"},
}


@pytest.mark.parametrize("case", sorted(SIGNING_BAD))
def test_malformed_signing_jwk(case: str) -> None:
    with pytest.raises(InvalidKey):
        parse_signing_jwk(SIGNING_BAD[case])


def _hyb(**changes: object) -> dict[str, object]:
    jwk: dict[str, object] = _without(_H, "kid")
    jwk.update(changes)
    return jwk


ENCRYPTION_BAD = {
    "x25519-d": {**_X, "d": _X["x"]},
    "x25519-wrong-kid": {**_X, "kid": _ED["kid"]},
    "x25519-crv-Ed25519": {**_X, "crv": "Ed25519"},
    "x25519-alg-ECDH-ES": {**_X, "alg": "ECDH-ES"},
    "x25519-short": {**_X, "x": b64u_encode(bytes(31))},
    "x25519-use-sig": {**_X, "use": "sig"},
    "kty-RSA": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    "hyb-alg": _hyb(alg="HPKE-X25519"),
    "hyb-no-alg": _without(_H, "alg"),
    "hyb-no-mlkem": _without(_H, "mlkem768", "kid"),
    "hyb-mlkem-short": _hyb(mlkem768=_H["mlkem768"][:-4]),
    "hyb-mlkem-invalid": _hyb(mlkem768=b64u_encode(b"\xff" * 1184)),
    "hyb-x25519-short": _hyb(x25519=b64u_encode(bytes(16))),
    "hyb-private-x": _hyb(x25519_d=_H["x25519"]),
    "hyb-private-m": _hyb(mlkem768_d=b64u_encode(bytes(64))),
    "hyb-kid-of-other": {**_H, "kid": _X["kid"]},
    "hyb-crv": _hyb(crv="X25519"),
    "hyb-not-dict": [_H],
}


@pytest.mark.parametrize("case", sorted(ENCRYPTION_BAD))
def test_malformed_encryption_jwk(case: str) -> None:
    with pytest.raises(InvalidKey):
        parse_encryption_jwk(ENCRYPTION_BAD[case])


@pytest.mark.parametrize("kind", ["hybrid", "x25519"])
def test_encryption_private_round_trip(kind: str) -> None:
    key = EncryptionPrivateKey.generate(kind)  # type: ignore[arg-type]
    jwk = key.to_private_jwk()
    if kind == "hybrid":
        assert set(jwk) == {"kty", "alg", "x25519", "mlkem768", "kid", "x25519_d", "mlkem768_d"}
        assert len(b64u_decode(jwk["mlkem768_d"])) == 64
        assert len(b64u_decode(jwk["x25519_d"])) == 32
        assert len(b64u_decode(jwk["mlkem768"])) == 1184
        assert jwk["alg"] == ALG_HYBRID and jwk["kty"] == "AVSEC-HYB"
    else:
        assert set(jwk) == {"kty", "crv", "x", "d", "kid", "alg"}
        assert jwk["alg"] == ALG_X25519
    again = EncryptionPrivateKey.from_jwk(json.loads(json.dumps(jwk)))
    assert again.kid == key.kid
    assert again.to_private_jwk() == jwk
    assert parse_encryption_jwk(key.public.to_jwk()) == key.public
    for secret in ("d", "x25519_d", "mlkem768_d"):
        if secret in jwk:
            assert jwk[secret] not in repr(key)


def test_hybrid_kid_is_the_documented_hash() -> None:
    import hashlib

    jwk = _H
    canonical = json.dumps(
        {
            "alg": jwk["alg"],
            "kty": jwk["kty"],
            "mlkem768": jwk["mlkem768"],
            "x25519": jwk["x25519"],
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    assert jwk["kid"] == b64u_encode(hashlib.sha256(canonical).digest())
    assert parse_encryption_jwk(_without(jwk, "kid")).kid == jwk["kid"]


@pytest.mark.parametrize("member", ["x25519", "mlkem768"])
def test_hybrid_private_jwk_public_members_must_match(member: str) -> None:
    jwk = EncryptionPrivateKey.generate("hybrid").to_private_jwk()
    other = _H
    bad = {**jwk, member: other[member]}
    del bad["kid"]
    with pytest.raises(InvalidKey):
        EncryptionPrivateKey.from_jwk(bad)


def test_private_jwk_errors() -> None:
    jwk = Ed25519Signer.generate().to_private_jwk()
    with pytest.raises(InvalidKey):
        Ed25519Signer.from_jwk(_without(jwk, "d"))
    with pytest.raises(InvalidKey):
        Ed25519Signer.from_jwk({**jwk, "x": _ED["x"], "kid": _ED["kid"]})
    with pytest.raises(InvalidKey):
        Ed25519Signer.from_jwk({**jwk, "d": "AAAA"})
    xjwk = EncryptionPrivateKey.generate("x25519").to_private_jwk()
    with pytest.raises(InvalidKey):
        EncryptionPrivateKey.from_jwk(_without(xjwk, "d"))
    with pytest.raises(InvalidKey):
        EncryptionPrivateKey.from_jwk({"kty": "oct", "k": "AAAA"})
    hjwk = EncryptionPrivateKey.generate("hybrid").to_private_jwk()
    with pytest.raises(InvalidKey):
        EncryptionPrivateKey.from_jwk({**hjwk, "mlkem768_d": b64u_encode(bytes(32))})
    with pytest.raises(InvalidKey):
        EncryptionPrivateKey.generate("rsa")  # type: ignore[arg-type]
    assert copy.deepcopy(hjwk) == hjwk
