"""Regenerate ``composite_vectors.json``: known answers for ML-DSA-65-Ed25519 (issue 20).

Run from the repository root: ``python tests/vectors/make_composite_vectors.py``.

Keys come from fixed labels (the ML-DSA-65 seed and the Ed25519 private key), so the
public key, the ``kid``, the message representative M' and the Ed25519 half are fixed
and checked byte for byte.  ML-DSA signing in OpenSSL is hedged (randomised), so its
half is checked by verifying it.  These private keys are test keys, published on purpose.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.crypto import TYP_ACK, HybridSigner, b64u_encode, make_request_token, sign_compact
from exchange.crypto.composite import message_representative

OUT = Path(__file__).with_name("composite_vectors.json")


def seed(label: str) -> bytes:
    return hashlib.sha256(f"avsec-test-vector|{label}|0".encode()).digest()


def hybrid(label: str) -> HybridSigner:
    m = mldsa.MLDSA65PrivateKey.from_seed_bytes(seed(label + "/mldsa65"))
    e = ed25519.Ed25519PrivateKey.from_private_bytes(seed(label + "/ed25519"))
    return HybridSigner.from_keys(m, e)


def main() -> None:
    signer = hybrid("hybrid-sender")
    messages = ["", "abc", "eyJhbGciOiJNTC1EU0EtNjUtRWQyNTUxOSJ9.eyJhIjoxfQ"]
    cases = []
    for text in messages:
        raw = text.encode("ascii")
        sig = signer.sign(raw)
        cases.append(
            {
                "message": text,
                "m_prime": message_representative(raw).decode("ascii"),
                "signature": b64u_encode(sig),
            }
        )
    token_args = {"aud": "urn:avsec:exchange:test", "method": "POST", "path": "/v1/bulletins"}
    vectors = {
        "description": "ML-DSA-65-Ed25519 composite, docs/protocol.md 'Hybrid signatures'",
        "alg": signer.alg,
        "prefix_hex": b"CompositeAlgorithmSignatures2025".hex(),
        "label": "COMPSIG-MLDSA65-Ed25519-SHA512",
        "private_jwk": signer.to_private_jwk(),
        "public_jwk": signer.public.to_jwk(),
        "kid": signer.kid,
        "cases": cases,
        "jws": {
            "typ": TYP_ACK,
            "payload": '{"bid":"b","party":"UZ","status":"read"}',
            "compact": sign_compact(b'{"bid":"b","party":"UZ","status":"read"}', signer, TYP_ACK),
        },
        "request_token": {
            **token_args,
            "client_id": "KZ/ops",
            "now": 1790000000,
            "lifetime": 120,
            "jti": "AAAAAAAAAAAAAAAAAAAAAA",
            "body": "{}",
            "token": make_request_token(
                signer,
                client_id="KZ/ops",
                body=b"{}",
                now=1790000000,
                lifetime=120,
                jti="AAAAAAAAAAAAAAAAAAAAAA",
                **token_args,
            ),
        },
    }
    OUT.write_text(json.dumps(vectors, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
