"""The pure cryptographic core: bytes and keys in, typed results out (STYLE §1).

No I/O, no clock (callers pass ``now``), no logging of key material.  Every failure is
an error from :mod:`exchange.errors`.
"""

from __future__ import annotations

from exchange.crypto._b64 import b64u_decode, b64u_encode
from exchange.crypto._json import loads_object
from exchange.crypto.envelope import (
    ROUTING_FIELDS,
    EnvelopeInfo,
    OpenedBulletin,
    open_envelope,
    seal,
    verify_envelope,
)
from exchange.crypto.jws import (
    TYP_ACK,
    TYP_BULLETIN,
    TYP_DIRECTORY,
    TYP_ENVELOPE,
    TYP_RECEIPT,
    TYP_REQUEST,
    TYP_STH,
    VerifiedJWS,
    peek_header,
    sign_compact,
    verify_compact,
)
from exchange.crypto.keys import (
    ALG_COMPOSITE,
    ALG_EDDSA,
    ALG_HYBRID,
    ALG_X25519,
    Ed25519Signer,
    EncryptionPrivateKey,
    EncryptionPublicKey,
    HybridSigner,
    Signer,
    SigningKey,
    SigningPublicKey,
    generate_signer,
    parse_encryption_jwk,
    parse_signing_jwk,
    signer_from_jwk,
)
from exchange.crypto.tokens import (
    RequestClaims,
    body_hash,
    make_request_token,
    verify_request_token,
)

__all__ = [
    "ALG_COMPOSITE",
    "ALG_EDDSA",
    "ALG_HYBRID",
    "ALG_X25519",
    "ROUTING_FIELDS",
    "TYP_ACK",
    "TYP_BULLETIN",
    "TYP_DIRECTORY",
    "TYP_ENVELOPE",
    "TYP_RECEIPT",
    "TYP_REQUEST",
    "TYP_STH",
    "Ed25519Signer",
    "EncryptionPrivateKey",
    "EncryptionPublicKey",
    "EnvelopeInfo",
    "HybridSigner",
    "OpenedBulletin",
    "RequestClaims",
    "Signer",
    "SigningKey",
    "SigningPublicKey",
    "VerifiedJWS",
    "b64u_decode",
    "b64u_encode",
    "body_hash",
    "generate_signer",
    "loads_object",
    "make_request_token",
    "open_envelope",
    "parse_encryption_jwk",
    "parse_signing_jwk",
    "peek_header",
    "seal",
    "sign_compact",
    "signer_from_jwk",
    "verify_compact",
    "verify_envelope",
    "verify_request_token",
]
