"""Strict structural parse of an envelope (PROTOCOL §3), shared by server and recipients.

Only public keys are needed.  The outer signature is checked before the JWE JSON is
parsed; after that the cost depends on the recipient count only through parsing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_decode
from exchange.crypto._recipients import ENCRYPTED_KEY_SIZE
from exchange.crypto.jws import TYP_ENVELOPE, verify_compact
from exchange.crypto.keys import ALG_X25519, SigningPublicKey
from exchange.errors import (
    DuplicateRecipient,
    MalformedEnvelope,
    UnsupportedAlgorithm,
)
from exchange.vocab import MAX_HEADER

__all__ = [
    "ENC",
    "ROUTING_FIELDS",
    "TYP_JWE",
    "ParsedEnvelope",
    "Recipient",
    "check_metadata",
    "parse_envelope",
]

ROUTING_FIELDS = (
    "v",
    "bid",
    "iss",
    "groups",
    "to",
    "type",
    "priority",
    "tlp",
    "iat",
    "exp",
    "supersedes",
)
ENC = "A256GCM"
TYP_JWE = "avsec-bulletin+jwe"
IV_SIZE = 12
TAG_SIZE = 16
CC_SIZE = 32

_JWE_MEMBERS = frozenset({"protected", "recipients", "iv", "ciphertext", "tag"})
_PROTECTED_MEMBERS = frozenset({"enc", "typ", "avsec"})
_AVSEC_MEMBERS = frozenset((*ROUTING_FIELDS, "cc"))
_ENTRY_MEMBERS = frozenset({"header", "encrypted_key"})
_HEADER_MEMBERS = {ALG_X25519: frozenset({"alg", "kid", "epk"})}
_DEFAULT_HEADER_MEMBERS = frozenset({"alg", "kid"})
_EPK_MEMBERS = frozenset({"kty", "crv", "x"})


@dataclass(frozen=True)
class Recipient:
    alg: str
    kid: str
    header: dict[str, Any]
    encrypted_key: str


@dataclass(frozen=True)
class ParsedEnvelope:
    kid: str
    metadata: dict[str, Any]
    cc: bytes
    protected: bytes
    recipients: tuple[Recipient, ...]
    iv: bytes
    ciphertext: bytes
    tag: bytes
    sha256: bytes
    size: int


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_FIELD_CHECKS: dict[str, Callable[[object], bool]] = {
    "v": lambda v: type(v) is int and v == 1,
    "bid": lambda v: isinstance(v, str) and bool(v),
    "iss": lambda v: isinstance(v, str) and bool(v),
    "groups": _is_str_list,
    "to": _is_str_list,
    "type": lambda v: isinstance(v, str),
    "priority": lambda v: isinstance(v, str),
    "tlp": lambda v: isinstance(v, str),
    "iat": lambda v: type(v) is int,
    "exp": lambda v: v is None or type(v) is int,
    "supersedes": lambda v: v is None or isinstance(v, str),
}


def check_metadata(meta: Any, error: type[Exception]) -> dict[str, Any]:
    """Each routing field present with its JSON type; returns them in canonical order."""
    if not isinstance(meta, dict):
        raise error("routing metadata is not an object")
    for name in ROUTING_FIELDS:
        if name not in meta or not _FIELD_CHECKS[name](meta[name]):
            raise error(f"routing field {name} missing or of the wrong type")
    return {name: meta[name] for name in ROUTING_FIELDS}


def _b64_member(obj: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = obj.get(name)
    if not isinstance(value, str):
        raise MalformedEnvelope(f"{name} missing or not a string")
    raw = b64u_decode(value)
    if size is not None and len(raw) != size:
        raise MalformedEnvelope(f"{name} has the wrong size")
    return raw


def _exact_members(obj: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    if obj.keys() != allowed:
        extra = obj.keys() - allowed
        if extra:
            raise UnsupportedAlgorithm(f"unsupported {what} member")
        raise MalformedEnvelope(f"{what} member missing")


def _parse_protected(encoded: str) -> tuple[dict[str, Any], bytes]:
    header = _json.loads_object(b64u_decode(encoded), MalformedEnvelope, "protected header")
    if "zip" in header or "crit" in header:
        raise UnsupportedAlgorithm("zip and crit are not allowed")
    _exact_members(header, _PROTECTED_MEMBERS, "protected header")
    if header["enc"] != ENC:
        raise UnsupportedAlgorithm("enc must be A256GCM")
    if header["typ"] != TYP_JWE:
        raise UnsupportedAlgorithm("unexpected JWE typ")
    avsec = header["avsec"]
    if not isinstance(avsec, dict) or avsec.keys() != _AVSEC_MEMBERS:
        raise MalformedEnvelope("avsec must hold exactly the routing fields and cc")
    meta = check_metadata(avsec, MalformedEnvelope)
    return meta, _b64_member(avsec, "cc", CC_SIZE)


def _parse_recipient(entry: object) -> Recipient:
    if not isinstance(entry, dict):
        raise MalformedEnvelope("recipient entry is not an object")
    _exact_members(entry, _ENTRY_MEMBERS, "recipient entry")
    header = entry["header"]
    if not isinstance(header, dict):
        raise MalformedEnvelope("recipient header is not an object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ENCRYPTED_KEY_SIZE:
        raise UnsupportedAlgorithm("unsupported key management alg")
    _exact_members(header, _HEADER_MEMBERS.get(alg, _DEFAULT_HEADER_MEMBERS), "recipient header")
    kid = header["kid"]
    if not isinstance(kid, str) or not kid:
        raise MalformedEnvelope("recipient kid missing")
    if alg == ALG_X25519:
        epk = header["epk"]
        if not isinstance(epk, dict) or epk.keys() != _EPK_MEMBERS:
            raise MalformedEnvelope("epk must be an OKP JWK")
        if epk["kty"] != "OKP" or epk["crv"] != "X25519":
            raise UnsupportedAlgorithm("epk must be an X25519 key")
        _b64_member(epk, "x", 32)
    encrypted_key = entry["encrypted_key"]
    _b64_member(entry, "encrypted_key", ENCRYPTED_KEY_SIZE[alg])
    return Recipient(alg=alg, kid=kid, header=header, encrypted_key=encrypted_key)


def parse_envelope(
    envelope: str | bytes,
    resolve: Callable[[str], SigningPublicKey | None],
    *,
    max_size: int,
    max_recipients: int,
    max_header: int = MAX_HEADER,
) -> ParsedEnvelope:
    """Verify the outer JWS, then parse the JWE it carries, strictly."""
    if not isinstance(envelope, str | bytes):
        raise MalformedEnvelope("an envelope is a string")
    if len(envelope) > max_size:
        raise MalformedEnvelope("envelope too large")
    try:
        raw = envelope.encode("ascii") if isinstance(envelope, str) else envelope
    except UnicodeEncodeError:
        raise MalformedEnvelope("an envelope is ASCII") from None
    outer = verify_compact(raw, resolve, TYP_ENVELOPE, max_header=max_header)
    jwe = _json.loads_object(outer.payload, MalformedEnvelope, "JWE")
    if "unprotected" in jwe or "aad" in jwe or "header" in jwe:
        raise UnsupportedAlgorithm("unprotected header and aad are not allowed")
    _exact_members(jwe, _JWE_MEMBERS, "JWE")
    protected = jwe["protected"]
    if not isinstance(protected, str):
        raise MalformedEnvelope("protected header is not a string")
    meta, cc = _parse_protected(protected)
    entries = jwe["recipients"]
    if not isinstance(entries, list) or not entries:
        raise MalformedEnvelope("recipients must be a non-empty list")
    if len(entries) > max_recipients:
        raise MalformedEnvelope("too many recipients")
    recipients = tuple(_parse_recipient(e) for e in entries)
    if len({r.kid for r in recipients}) != len(recipients):
        raise DuplicateRecipient("a recipient kid is listed twice")
    return ParsedEnvelope(
        kid=outer.kid,
        metadata=meta,
        cc=cc,
        protected=protected.encode("ascii"),
        recipients=recipients,
        iv=_b64_member(jwe, "iv", IV_SIZE),
        ciphertext=_b64_member(jwe, "ciphertext"),
        tag=_b64_member(jwe, "tag", TAG_SIZE),
        sha256=hashlib.sha256(raw).digest(),
        size=len(raw),
    )
