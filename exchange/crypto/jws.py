"""Lean compact JWS (RFC 7515), EdDSA or the ML-DSA-65-Ed25519 composite, over the exact
bytes sent.

Verification does the cheap checks first (size, ``alg`` allow-list, ``typ``, forbidden
headers, known ``kid``, the ``alg`` of that key) and only then the signature, as RFC 8725
recommends.  The algorithm is the key's, never the token's choice: a hybrid kid with
``EdDSA``, or an Ed25519 kid with the composite ``alg``, is refused before any signature
check (issue 20, no downgrade).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_decode, b64u_encode
from exchange.crypto.signing import SIGNING_ALGS, Signer, SigningPublicKey
from exchange.errors import BadSignature, MalformedEnvelope, UnknownKey, UnsupportedAlgorithm
from exchange.vocab import MAX_HEADER

__all__ = [
    "FORBIDDEN_HEADERS",
    "TYP_ACK",
    "TYP_BULLETIN",
    "TYP_DIRECTORY",
    "TYP_ENVELOPE",
    "TYP_KEY_PROOF",
    "TYP_RECEIPT",
    "TYP_REQUEST",
    "TYP_SERVER_KEY_ROTATION",
    "TYP_STH",
    "VerifiedJWS",
    "check_header",
    "peek_header",
    "sign_compact",
    "verify_compact",
]

TYP_ENVELOPE = "avsec-envelope+jws"
TYP_BULLETIN = "avsec-bulletin+jws"
TYP_ACK = "avsec-ack+jws"
TYP_RECEIPT = "avsec-receipt+jws"
TYP_STH = "avsec-sth+jws"
TYP_DIRECTORY = "avsec-directory+jws"
TYP_REQUEST = "avsec-req+jwt"
#: issue 18: a client's new signing key proves possession; the server's old key names
#: its successor
TYP_KEY_PROOF = "avsec-key-proof+jws"
TYP_SERVER_KEY_ROTATION = "avsec-server-key-rotation+jws"

#: Header members that would let the token choose its own key or change how it is read.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip"})


@dataclass(frozen=True)
class VerifiedJWS:
    """A JWS whose signature checked out against ``kid``."""

    header: dict[str, Any]
    payload: bytes
    kid: str
    signing_input: bytes


def sign_compact(payload: bytes, signer: Signer, typ: str) -> str:
    """Sign ``payload`` as is; the header has no white space and a fixed member order."""
    header = _json.dumps({"alg": signer.alg, "kid": signer.kid, "typ": typ})
    signing_input = f"{b64u_encode(header)}.{b64u_encode(payload)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64u_encode(signer.sign(signing_input))}"


def _as_bytes(token: str | bytes) -> bytes:
    if isinstance(token, bytes):
        return token
    if isinstance(token, str):
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedEnvelope("a compact JWS is ASCII") from None
    raise MalformedEnvelope("a compact JWS is a string")


def _split(token: bytes, max_header: int) -> tuple[bytes, bytes, bytes]:
    # find the first dot before splitting so that a huge token without dots, or with a
    # huge header, is rejected before anything is copied or decoded
    dot = token.find(b".", 0, max_header + 1)
    if dot < 0:
        raise MalformedEnvelope("JWS header missing or too large")
    parts = token.split(b".")
    if len(parts) != 3:
        raise MalformedEnvelope("a compact JWS has exactly three parts")
    return parts[0], parts[1], parts[2]


def _parse_header(encoded: bytes) -> dict[str, Any]:
    return _json.loads_object(b64u_decode(encoded), MalformedEnvelope, "JWS header")


def peek_header(token: str | bytes, *, max_header: int = MAX_HEADER) -> dict[str, Any]:
    """The header, unverified: for routing and cheap checks only, never for trust."""
    header, _, _ = _split(_as_bytes(token), max_header)
    return _parse_header(header)


def check_header(header: dict[str, Any], typ: str) -> str:
    """Apply the allow-lists to a parsed header and return its ``kid``."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SIGNING_ALGS:
        raise UnsupportedAlgorithm("alg must be EdDSA or ML-DSA-65-Ed25519")
    if header.get("typ") != typ:
        raise UnsupportedAlgorithm("unexpected typ")
    if not FORBIDDEN_HEADERS.isdisjoint(header):
        raise UnsupportedAlgorithm("forbidden JWS header member")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedEnvelope("kid missing")
    return kid


def verify_compact(
    token: str | bytes,
    resolve: Callable[[str], SigningPublicKey | None],
    typ: str,
    *,
    max_header: int = MAX_HEADER,
) -> VerifiedJWS:
    """Verify a compact JWS of kind ``typ`` with the key ``resolve(kid)`` returns."""
    raw = _as_bytes(token)
    h64, p64, s64 = _split(raw, max_header)
    header = _parse_header(h64)
    kid = check_header(header, typ)
    key = resolve(kid)
    if key is None:
        raise UnknownKey("unknown kid")
    if header["alg"] != key.alg:
        raise UnsupportedAlgorithm("alg does not match the key's algorithm")
    try:
        signature = b64u_decode(s64)
    except MalformedEnvelope:
        raise BadSignature("signature verification failed") from None
    signing_input = raw[: len(h64) + 1 + len(p64)]
    if len(signature) != key.signature_size or not key.verify(signature, signing_input):
        raise BadSignature("signature verification failed")
    return VerifiedJWS(
        header=header, payload=b64u_decode(p64), kid=kid, signing_input=signing_input
    )
