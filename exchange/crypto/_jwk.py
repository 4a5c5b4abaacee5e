"""JWK member helpers shared by the signing and encryption key parsers (strict by design)."""

from __future__ import annotations

import hashlib

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_decode, b64u_encode
from exchange.errors import CryptoError, InvalidKey

__all__ = [
    "KTY_HYBRID",
    "OKP_PUBLIC",
    "bytes_member",
    "check_common",
    "check_kid",
    "parse_okp",
    "require_dict",
    "thumbprint",
]

#: The ``kty`` of this exchange's two-key (hybrid) JWKs, for encryption and for signing.
KTY_HYBRID = "AVSEC-HYB"
# Members a public OKP JWK may carry; anything else (notably ``d``) is refused.
OKP_PUBLIC = frozenset({"kty", "crv", "x", "kid", "alg", "use", "key_ops"})


def thumbprint(members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, no white space."""
    canonical = _json.dumps(dict(sorted(members.items())))
    return b64u_encode(hashlib.sha256(canonical).digest())


def require_dict(jwk: object) -> dict[str, object]:
    if not isinstance(jwk, dict) or not all(isinstance(k, str) for k in jwk):
        raise InvalidKey("a JWK must be a JSON object")
    return jwk


def _str_member(jwk: dict[str, object], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {name!r} missing or not a string")
    return value


def bytes_member(jwk: dict[str, object], name: str, size: int) -> bytes:
    try:
        raw = b64u_decode(_str_member(jwk, name))
    except CryptoError:
        raise InvalidKey(f"JWK member {name!r} is not base64url") from None
    if len(raw) != size:
        raise InvalidKey(f"JWK member {name!r} has the wrong size")
    return raw


def check_common(jwk: dict[str, object], allowed: frozenset[str], alg: str, use: str) -> None:
    extra = set(jwk) - allowed
    if extra:
        raise InvalidKey(f"unexpected JWK members: {', '.join(sorted(extra))}")
    if "alg" in jwk and jwk["alg"] != alg:
        raise InvalidKey("JWK alg does not match the key type")
    if "use" in jwk and jwk["use"] != use:
        raise InvalidKey("JWK use does not match the key type")
    if "key_ops" in jwk and (
        not isinstance(jwk["key_ops"], list) or not all(isinstance(o, str) for o in jwk["key_ops"])
    ):
        raise InvalidKey("JWK key_ops must be a list of strings")


def check_kid(jwk: dict[str, object], kid: str) -> None:
    if "kid" in jwk and jwk["kid"] != kid:
        raise InvalidKey("JWK kid is not the key's thumbprint")


def parse_okp(jwk: object, crv: str, alg: str, use: str, allowed: frozenset[str]) -> bytes:
    d = require_dict(jwk)
    if d.get("kty") != "OKP" or d.get("crv") != crv:
        raise InvalidKey(f"expected an OKP {crv} JWK")
    check_common(d, allowed, alg, use)
    return bytes_member(d, "x", 32)
