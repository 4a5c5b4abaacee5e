"""Per-request bearer tokens (PROTOCOL §6): EdDSA JWTs bound to one method, path and body.

Every failure is ``AuthError`` with a short detail that is safe to show the peer.  The
server itself checks that ``kid`` belongs to ``iss``, the client's status and role, and
that ``jti`` is used once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_encode
from exchange.crypto.jws import TYP_REQUEST, sign_compact, verify_compact
from exchange.crypto.keys import Signer, SigningPublicKey
from exchange.errors import AuthError, BadSignature, ExchangeError, UnknownKey
from exchange.vocab import CLOCK_SKEW, MAX_HEADER, TOKEN_LIFETIME, iat_problem

__all__ = ["RequestClaims", "body_hash", "make_request_token", "verify_request_token"]

#: at least 128 bits as base64url (22 characters); an upper bound keeps the jti table lean
_JTI = re.compile(r"[A-Za-z0-9_-]{22,128}")


@dataclass(frozen=True)
class RequestClaims:
    """What the server still has to check against its database."""

    iss: str
    kid: str
    jti: str
    iat: int
    exp: int


def body_hash(body: bytes) -> str:
    """``bsh``: base64url SHA-256 of the exact request body."""
    return b64u_encode(hashlib.sha256(body).digest())


def make_request_token(
    signer: Signer,
    *,
    client_id: str,
    aud: str,
    method: str,
    path: str,
    body: bytes | None,
    now: int,
    lifetime: int = 60,
    jti: str | None = None,
) -> str:
    """A token for one request; ``bsh`` is included exactly when a body is sent."""
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti if jti is not None else b64u_encode(os.urandom(16)),
        "htm": method.upper(),
        "htu": path.split("?", 1)[0],
    }
    if body:
        claims["bsh"] = body_hash(body)
    return sign_compact(_json.dumps(claims), signer, TYP_REQUEST)


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int:
        raise AuthError(f"claim {name} missing or not an integer")
    return value


def _str_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise AuthError(f"claim {name} missing or not a string")
    return value


def verify_request_token(
    token: str,
    resolve: Callable[[str], SigningPublicKey | None],
    *,
    aud: str,
    method: str,
    path: str,
    body: bytes | None,
    now: int,
    skew: int = CLOCK_SKEW,
    max_lifetime: int = TOKEN_LIFETIME,
    max_len: int = MAX_HEADER,
) -> RequestClaims:
    """Check one request token; the stateful checks are the caller's."""
    if not isinstance(token, str | bytes) or len(token) > max_len:
        raise AuthError("token too long")
    try:
        jws = verify_compact(token, resolve, TYP_REQUEST, max_header=max_len)
    except UnknownKey:
        raise AuthError("unknown key") from None
    except BadSignature:
        raise AuthError("bad signature") from None
    except ExchangeError as exc:
        raise AuthError(f"invalid token: {exc.detail}") from None
    try:
        claims = _json.loads_object(jws.payload, what="claims")
    except ExchangeError:
        raise AuthError("claims are not a JSON object") from None

    iss = _str_claim(claims, "iss")
    token_aud = _str_claim(claims, "aud")
    iat = _int_claim(claims, "iat")
    exp = _int_claim(claims, "exp")
    jti = _str_claim(claims, "jti")
    htm = _str_claim(claims, "htm")
    htu = _str_claim(claims, "htu")
    if not _JTI.fullmatch(jti):
        raise AuthError("jti must be at least 128 bits of base64url")
    if exp <= iat or exp - iat > max_lifetime:
        raise AuthError("token lifetime out of range")
    if iat_problem(iat, now, future=skew):
        raise AuthError("token issued in the future")
    if exp < now - skew:
        raise AuthError("token expired")
    if "nbf" in claims and (type(claims["nbf"]) is not int or claims["nbf"] > now + skew):
        raise AuthError("token not yet valid")
    if token_aud != aud:
        raise AuthError("wrong audience")
    if htm != method.upper():
        raise AuthError("wrong method")
    if htu != path.split("?", 1)[0]:
        raise AuthError("wrong path")
    bsh = claims.get("bsh")
    if body or bsh is not None:
        if not isinstance(bsh, str):
            raise AuthError("body hash missing")
        if not hmac.compare_digest(bsh.encode(), body_hash(body or b"").encode()):
            raise AuthError("body hash mismatch")
    return RequestClaims(iss=iss, kid=jws.kid, jti=jti, iat=iat, exp=exp)
