"""Known answers from ``tests/vectors/crypto_vectors.json`` (regenerate with
``tests/vectors/make_crypto_vectors.py``).  A change here is a wire-format change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exchange.crypto import (
    ROUTING_FIELDS,
    Ed25519Signer,
    EncryptionPrivateKey,
    b64u_decode,
    make_request_token,
    open_envelope,
    seal,
    sign_compact,
    verify_compact,
    verify_envelope,
    verify_request_token,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "crypto_vectors.json").read_text("utf-8")
)
SIGNERS = {name: Ed25519Signer.from_jwk(jwk) for name, jwk in VECTORS["signing_keys"].items()}
KEYS = {p: EncryptionPrivateKey.from_jwk(jwk) for p, jwk in VECTORS["encryption_keys"].items()}
SENDER = SIGNERS["sender"]
RESOLVE = {s.kid: s.public for s in SIGNERS.values()}.get


def replay(values: list[str]) -> Callable[[int], bytes]:
    queue = [bytes.fromhex(v) for v in values]

    def rand(n: int) -> bytes:
        out = queue.pop(0)
        assert len(out) == n
        return out

    return rand


def _jwe(envelope: str) -> dict[str, Any]:
    return json.loads(b64u_decode(envelope.split(".")[1]))


def test_keys_round_trip() -> None:
    for name, jwk in VECTORS["signing_keys"].items():
        assert SIGNERS[name].to_private_jwk() == jwk
    for party, jwk in VECTORS["encryption_keys"].items():
        assert KEYS[party].to_private_jwk() == jwk


def test_jws_known_answer() -> None:
    v = VECTORS["jws"]
    signer = SIGNERS[v["signer"]]
    assert sign_compact(v["payload"].encode(), signer, v["typ"]) == v["compact"]
    assert verify_compact(v["compact"], RESOLVE, v["typ"]).payload == v["payload"].encode()


def test_request_token_known_answer() -> None:
    v = VECTORS["request_token"]
    args = {k: v[k] for k in ("aud", "method", "path", "now")}
    token = make_request_token(
        SIGNERS[v["signer"]],
        client_id=v["client_id"],
        body=v["body"].encode(),
        lifetime=v["lifetime"],
        jti=v["jti"],
        **args,
    )
    assert token == v["token"]
    claims = verify_request_token(token, RESOLVE, body=v["body"].encode(), **args)
    assert (claims.iss, claims.jti) == (v["client_id"], v["jti"])


@pytest.mark.parametrize("name", ["envelope_classical", "envelope_mixed"])
def test_envelope_opens(name: str) -> None:
    v = VECTORS[name]
    env = v["envelope"]
    info = verify_envelope(env, RESOLVE)
    assert info.sha256.hex() == v["envelope_sha256"]
    assert info.kid == SENDER.kid
    assert info.metadata == {k: v["bulletin"][k] for k in ROUTING_FIELDS}
    assert info.recipient_kids == tuple(KEYS[p].kid for p in v["recipients"])
    jwe = _jwe(env)
    assert b64u_decode(jwe["protected"]).decode() == v["protected_header"]
    cek = bytes.fromhex(v["rand"][0])
    assert hashlib.sha256(b"avsec-cek-commit-v1" + cek).digest() == b64u_decode(v["cc"])
    assert json.loads(v["protected_header"])["avsec"]["cc"] == v["cc"]
    for party in v["recipients"]:
        opened = open_envelope(
            env, RESOLVE, party=party, key=KEYS[party], audience=lambda m: set(v["recipients"])
        )
        assert opened.bulletin == v["bulletin"]


def test_classical_envelope_reseals_byte_for_byte() -> None:
    v = VECTORS["envelope_classical"]
    recipients = [KEYS[p].public for p in v["recipients"]]
    assert seal(v["bulletin"], SENDER, recipients, rand=replay(v["rand"])) == v["envelope"]


def test_mixed_envelope_reseals_except_hpke() -> None:
    """CEK, IV and ephemeral keys come from ``rand``; only HPKE output and therefore the
    outer signature differ."""
    v = VECTORS["envelope_mixed"]
    recipients = [KEYS[p].public for p in v["recipients"]]
    again = _jwe(seal(v["bulletin"], SENDER, recipients, rand=replay(v["rand"])))
    stored = _jwe(v["envelope"])
    for member in ("protected", "iv", "ciphertext", "tag"):
        assert again[member] == stored[member]
    for new, old in zip(again["recipients"], stored["recipients"], strict=True):
        assert new["header"] == old["header"]
        if old["header"]["alg"] == "ECDH-ES+A256KW":
            assert new["encrypted_key"] == old["encrypted_key"]
        else:
            assert len(new["encrypted_key"]) == len(old["encrypted_key"])
