"""ML-DSA-65 + Ed25519 composite signatures (issue 20): combiner, JWK, JWS dispatch, and
every downgrade we can think of refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.crypto import (
    TYP_ACK,
    TYP_REQUEST,
    Ed25519Signer,
    HybridSigner,
    _json,
    b64u_decode,
    b64u_encode,
    generate_signer,
    make_request_token,
    parse_signing_jwk,
    sign_compact,
    signer_from_jwk,
    verify_compact,
    verify_request_token,
)
from exchange.crypto.composite import MLDSA65_SIG_SIZE, message_representative
from exchange.errors import AuthError, BadSignature, InvalidKey, UnsupportedAlgorithm

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "composite_vectors.json").read_text("utf-8")
)
KAT = signer_from_jwk(VECTORS["private_jwk"])
# The draft's constants, written out here from the draft text (not from our module).
PREFIX_HEX = "436F6D706F73697465416C676F726974686D5369676E61747572657332303235"
LABEL_HEX = "434F4D505349472D4D4C44534136352D456432353531392D534841353132"


@pytest.fixture(scope="module")
def hybrid() -> HybridSigner:
    return HybridSigner.generate()


@pytest.fixture(scope="module")
def classic() -> Ed25519Signer:
    return Ed25519Signer.generate()


def resolver(*signers):
    return {s.kid: s.public for s in signers}.get


def _halves(signer: HybridSigner, data: bytes) -> tuple[bytes, bytes]:
    sig = signer.sign(data)
    return sig[:MLDSA65_SIG_SIZE], sig[MLDSA65_SIG_SIZE:]


def _token(header: dict, payload: bytes, sig_of) -> str:
    si = f"{b64u_encode(_json.dumps(header))}.{b64u_encode(payload)}"
    return f"{si}.{b64u_encode(sig_of(si.encode()))}"


# --- the combiner -------------------------------------------------------------------------


def test_message_representative_matches_the_draft() -> None:
    m = b"hello"
    expected = bytes.fromhex(PREFIX_HEX + LABEL_HEX) + b"\x00" + hashlib.sha512(m).digest()
    assert b64u_decode(message_representative(m).decode()) == expected


def test_both_halves_are_standard_signatures_over_m_prime(hybrid: HybridSigner) -> None:
    data = b"signing input"
    m_sig, e_sig = _halves(hybrid, data)
    m_prime = message_representative(data)
    # each half verifies with the plain primitive, ML-DSA with ctx = Label
    hybrid.public.key.verify(e_sig, m_prime)
    assert hybrid.public.mldsa_key is not None
    hybrid.public.mldsa_key.verify(m_sig, m_prime, bytes.fromhex(LABEL_HEX))
    # and neither half is a signature over the raw message (domain separation)
    with pytest.raises(InvalidSignature):
        hybrid.public.key.verify(e_sig, data)


def test_sizes(hybrid: HybridSigner) -> None:
    assert len(hybrid.sign(b"x")) == 3309 + 64
    assert len(b64u_decode(hybrid.public.to_jwk()["mldsa65"])) == 1952


# --- known answers -------------------------------------------------------------------------


def test_known_answer_keys() -> None:
    assert isinstance(KAT, HybridSigner)
    assert KAT.to_private_jwk() == VECTORS["private_jwk"]
    assert KAT.public.to_jwk() == VECTORS["public_jwk"]
    assert KAT.kid == VECTORS["kid"]
    jwk = VECTORS["public_jwk"]
    members = {k: jwk[k] for k in ("alg", "ed25519", "kty", "mldsa65")}
    digest = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode())
    assert b64u_encode(digest.digest()) == VECTORS["kid"]
    assert VECTORS["alg"] == "ML-DSA-65-Ed25519"


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: repr(c["message"][:8]))
def test_known_answer_signatures(case: dict) -> None:
    message = case["message"].encode()
    assert message_representative(message).decode() == case["m_prime"]
    sig = b64u_decode(case["signature"])
    assert KAT.public.verify(sig, message)
    # Ed25519 is deterministic: its half is reproduced byte for byte
    assert KAT.sign(message)[MLDSA65_SIG_SIZE:] == sig[MLDSA65_SIG_SIZE:]
    assert not KAT.public.verify(sig, message + b"x")


def test_known_answer_jws_and_token() -> None:
    v = VECTORS["jws"]
    got = verify_compact(v["compact"], resolver(KAT), v["typ"])
    assert got.payload == v["payload"].encode()
    assert got.header["alg"] == "ML-DSA-65-Ed25519"
    t = VECTORS["request_token"]
    args = {k: t[k] for k in ("aud", "method", "path", "now")}
    claims = verify_request_token(t["token"], resolver(KAT), body=t["body"].encode(), **args)
    assert (claims.iss, claims.jti, claims.kid) == (t["client_id"], t["jti"], KAT.kid)


# --- JWK -----------------------------------------------------------------------------------


def test_jwk_round_trip(hybrid: HybridSigner) -> None:
    jwk = hybrid.public.to_jwk()
    assert parse_signing_jwk(jwk) == hybrid.public
    assert jwk["kty"] == "AVSEC-HYB" and jwk["alg"] == "ML-DSA-65-Ed25519"
    again = signer_from_jwk(hybrid.to_private_jwk())
    assert again.kid == hybrid.kid


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: j.update(ed25519_d="AAAA"),
        lambda j: j.update(d="AAAA"),
        lambda j: j.update(alg="EdDSA"),
        lambda j: j.update(use="enc"),
        lambda j: j.update(kid="x" * 43),
        lambda j: j.update(mldsa65=j["mldsa65"][:-4]),
        lambda j: j.update(ed25519=b64u_encode(bytes(32))),
        lambda j: j.pop("mldsa65"),
        lambda j: j.update(kty="OKP"),
    ],
)
def test_bad_public_jwk_refused(hybrid: HybridSigner, mutate) -> None:
    jwk = dict(hybrid.public.to_jwk())
    mutate(jwk)
    with pytest.raises(InvalidKey):
        parse_signing_jwk(jwk)


def test_private_jwk_must_match(hybrid: HybridSigner) -> None:
    other = HybridSigner.generate().to_private_jwk()
    jwk = hybrid.to_private_jwk()
    with pytest.raises(InvalidKey):
        signer_from_jwk({**jwk, "mldsa65_d": other["mldsa65_d"]})
    with pytest.raises(InvalidKey):
        signer_from_jwk({**jwk, "ed25519_d": other["ed25519_d"]})


def test_generate_kinds() -> None:
    assert isinstance(generate_signer(), HybridSigner)
    assert isinstance(generate_signer("ed25519"), Ed25519Signer)
    with pytest.raises(InvalidKey):
        generate_signer("rsa")  # type: ignore[arg-type]


# --- JWS dispatch and downgrade ------------------------------------------------------------


def test_hybrid_jws_round_trip(hybrid: HybridSigner, classic: Ed25519Signer) -> None:
    token = sign_compact(b"{}", hybrid, TYP_ACK)
    header = json.loads(b64u_decode(token.split(".")[0]))
    assert header == {"alg": "ML-DSA-65-Ed25519", "kid": hybrid.kid, "typ": TYP_ACK}
    assert verify_compact(token, resolver(hybrid, classic), TYP_ACK).kid == hybrid.kid
    # Ed25519 keys still verify, side by side
    old = sign_compact(b"{}", classic, TYP_ACK)
    assert verify_compact(old, resolver(hybrid, classic), TYP_ACK).kid == classic.kid


def test_mldsa_half_stripped_refused(hybrid: HybridSigner) -> None:
    header = {"alg": "ML-DSA-65-Ed25519", "kid": hybrid.kid, "typ": TYP_ACK}
    token = _token(header, b"{}", lambda si: hybrid.sign(si)[MLDSA65_SIG_SIZE:])
    with pytest.raises(BadSignature):
        verify_compact(token, resolver(hybrid), TYP_ACK)


def test_ed25519_half_stripped_refused(hybrid: HybridSigner) -> None:
    header = {"alg": "ML-DSA-65-Ed25519", "kid": hybrid.kid, "typ": TYP_ACK}
    token = _token(header, b"{}", lambda si: hybrid.sign(si)[:MLDSA65_SIG_SIZE])
    with pytest.raises(BadSignature):
        verify_compact(token, resolver(hybrid), TYP_ACK)


@pytest.mark.parametrize("which", ["mldsa", "ed25519"])
def test_one_half_replaced_refused(hybrid: HybridSigner, which: str) -> None:
    header = {"alg": "ML-DSA-65-Ed25519", "kid": hybrid.kid, "typ": TYP_ACK}

    def sig(si: bytes) -> bytes:
        m, e = _halves(hybrid, si)
        om, oe = _halves(hybrid, si + b"other")
        return om + e if which == "mldsa" else m + oe

    with pytest.raises(BadSignature):
        verify_compact(_token(header, b"{}", sig), resolver(hybrid), TYP_ACK)
    # zeroed half, same size
    z = _token(header, b"{}", lambda si: bytes(MLDSA65_SIG_SIZE) + _halves(hybrid, si)[1])
    with pytest.raises(BadSignature):
        verify_compact(z, resolver(hybrid), TYP_ACK)


def test_hybrid_kid_with_eddsa_refused() -> None:
    """A valid Ed25519 signature by the hybrid key's own Ed25519 half, labelled EdDSA."""
    m = mldsa.MLDSA65PrivateKey.generate()
    e = ed25519.Ed25519PrivateKey.generate()
    hybrid = HybridSigner.from_keys(m, e)
    header = {"alg": "EdDSA", "kid": hybrid.kid, "typ": TYP_ACK}
    token = _token(header, b"{}", e.sign)
    with pytest.raises(UnsupportedAlgorithm):
        verify_compact(token, resolver(hybrid), TYP_ACK)
    with pytest.raises(AuthError):
        verify_request_token(
            _token({**header, "typ": TYP_REQUEST}, b"{}", e.sign),
            resolver(hybrid),
            aud="a",
            method="GET",
            path="/",
            body=None,
            now=0,
        )


def test_ed25519_kid_with_composite_alg_refused(classic: Ed25519Signer) -> None:
    header = {"alg": "ML-DSA-65-Ed25519", "kid": classic.kid, "typ": TYP_ACK}
    token = _token(header, b"{}", lambda si: HybridSigner.generate().sign(si))
    with pytest.raises(UnsupportedAlgorithm):
        verify_compact(token, resolver(classic), TYP_ACK)
    token = _token(header, b"{}", classic.sign)
    with pytest.raises(UnsupportedAlgorithm):
        verify_compact(token, resolver(classic), TYP_ACK)


def test_hybrid_request_token_fits(hybrid: HybridSigner) -> None:
    args = {"aud": "urn:avsec:x", "method": "POST", "path": "/v1/bulletins", "now": 1790000000}
    body = b'{"x":1}'
    token = make_request_token(hybrid, client_id="KZ/ops", body=body, **args)
    assert len(token) < 8192
    assert verify_request_token(token, resolver(hybrid), body=body, **args).kid == hybrid.kid
