"""Request tokens (PROTOCOL §6): the attack table, each case an ``AuthError``."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from exchange.crypto import (
    TYP_REQUEST,
    Ed25519Signer,
    _json,
    b64u_decode,
    b64u_encode,
    body_hash,
    make_request_token,
    verify_request_token,
)
from exchange.errors import AuthError

NOW = 1_790_000_000
AUD = "avsec-exchange"
BODY = b'{"bid":"x"}'


def _verify(token: Any, signer: Ed25519Signer, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "aud": AUD,
        "method": "POST",
        "path": "/v1/bulletins",
        "body": BODY,
        "now": NOW,
    }
    args.update(kw)
    return verify_request_token(token, {signer.kid: signer.public}.get, **args)


def _claims(signer: Ed25519Signer, **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": "KZ/ops",
        "aud": AUD,
        "iat": NOW,
        "exp": NOW + 60,
        "jti": b64u_encode(b"0123456789abcdef"),
        "htm": "POST",
        "htu": "/v1/bulletins",
        "bsh": body_hash(BODY),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()


def _token(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    si = f"{b64u_encode(_json.dumps(header))}.{b64u_encode(_json.dumps(claims))}"
    return f"{si}.{b64u_encode(sign(si.encode()))}"


def _eddsa(signer: Ed25519Signer, claims: dict[str, Any], **header: Any) -> str:
    h = {"alg": "EdDSA", "typ": TYP_REQUEST, "kid": signer.kid, **header}
    return _token(h, claims, signer.sign)


def test_round_trip(sender) -> None:
    token = make_request_token(
        sender,
        client_id="KZ/ops",
        aud=AUD,
        method="post",
        path="/v1/bulletins?x=1",
        body=BODY,
        now=NOW,
    )
    claims = _verify(token, sender, path="/v1/bulletins?y=2")
    assert claims.iss == "KZ/ops" and claims.kid == sender.kid
    assert claims.iat == NOW and claims.exp == NOW + 60
    assert len(claims.jti) >= 22


def test_no_body(sender) -> None:
    token = make_request_token(
        sender, client_id="KZ/ops", aud=AUD, method="GET", path="/v1/inbox", body=None, now=NOW
    )
    assert "bsh" not in json.loads(b64u_decode(token.split(".")[1]))
    assert _verify(token, sender, method="GET", path="/v1/inbox", body=None)
    assert _verify(token, sender, method="GET", path="/v1/inbox", body=b"")
    # a token with bsh of the empty body is also fine for a request without one
    t2 = _eddsa(sender, _claims(sender, htm="GET", htu="/v1/inbox", bsh=body_hash(b"")))
    assert _verify(t2, sender, method="GET", path="/v1/inbox", body=None)


def test_skew_boundaries(sender) -> None:
    assert _verify(_eddsa(sender, _claims(sender, iat=NOW + 60, exp=NOW + 120)), sender)
    assert _verify(_eddsa(sender, _claims(sender, iat=NOW - 120, exp=NOW - 60)), sender)
    assert _verify(_eddsa(sender, _claims(sender, exp=NOW + 300)), sender)


def _public_pem(signer: Ed25519Signer) -> bytes:
    return signer.public.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256(secret: bytes) -> Any:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def _cases(s: Ed25519Signer, other: Ed25519Signer) -> dict[str, str]:
    c = _claims(s)
    hs = {"alg": "HS256", "typ": TYP_REQUEST, "kid": s.kid}
    return {
        "alg-none": _token({"alg": "none", "typ": TYP_REQUEST, "kid": s.kid}, c, lambda d: b""),
        "alg-none-sig": _token({"alg": "none", "typ": TYP_REQUEST, "kid": s.kid}, c, s.sign),
        "hs256-pem": _token(hs, c, _hs256(_public_pem(s))),
        "hs256-raw": _token(hs, c, _hs256(s.public.raw)),
        "hs256-jwk": _token(hs, c, _hs256(json.dumps(s.public.to_jwk()).encode())),
        "hs256-x": _token(hs, c, _hs256(s.public.to_jwk()["x"].encode())),
        "jwk-header": _eddsa(other, c, jwk=other.public.to_jwk()),
        "jwk-header-known-kid": _eddsa(s, c, jwk=s.public.to_jwk()),
        "jku-header": _eddsa(s, c, jku="https://evil.example/jwks"),
        "x5u-header": _eddsa(s, c, x5u="https://evil.example/cert"),
        "x5c-header": _eddsa(s, c, x5c=["MIIB"]),
        "typ-JWT": _eddsa(s, c, typ="JWT"),
        "typ-envelope": _eddsa(s, c, typ="avsec-envelope+jws"),
        "typ-missing": _token({"alg": "EdDSA", "kid": s.kid}, c, s.sign),
        "kid-missing": _token({"alg": "EdDSA", "typ": TYP_REQUEST}, c, s.sign),
        "unknown-kid": _eddsa(other, c),
        "bad-signature": _eddsa(s, c)[:-4] + "AAAA",
        "signed-by-other-key": _token(
            {"alg": "EdDSA", "typ": TYP_REQUEST, "kid": s.kid}, c, other.sign
        ),
        "missing-iss": _eddsa(s, _claims(s, iss=_DROP)),
        "missing-aud": _eddsa(s, _claims(s, aud=_DROP)),
        "missing-iat": _eddsa(s, _claims(s, iat=_DROP)),
        "missing-exp": _eddsa(s, _claims(s, exp=_DROP)),
        "missing-jti": _eddsa(s, _claims(s, jti=_DROP)),
        "missing-htm": _eddsa(s, _claims(s, htm=_DROP)),
        "missing-htu": _eddsa(s, _claims(s, htu=_DROP)),
        "missing-bsh": _eddsa(s, _claims(s, bsh=_DROP)),
        "iss-int": _eddsa(s, _claims(s, iss=5)),
        "aud-list": _eddsa(s, _claims(s, aud=[AUD])),
        "iat-float": _eddsa(s, _claims(s, iat=NOW + 0.5)),
        "iat-str": _eddsa(s, _claims(s, iat=str(NOW))),
        "exp-bool": _eddsa(s, _claims(s, exp=True)),
        "jti-short": _eddsa(s, _claims(s, jti="abc")),
        "jti-int": _eddsa(s, _claims(s, jti=12345678901234567890123)),
        "jti-not-b64u": _eddsa(s, _claims(s, jti="a" * 21 + "!")),
        "lifetime-301": _eddsa(s, _claims(s, exp=NOW + 301)),
        "exp-before-iat": _eddsa(s, _claims(s, exp=NOW - 1)),
        "exp-equals-iat": _eddsa(s, _claims(s, exp=NOW)),
        "iat-future": _eddsa(s, _claims(s, iat=NOW + 61, exp=NOW + 121)),
        "expired": _eddsa(s, _claims(s, iat=NOW - 200, exp=NOW - 61)),
        "nbf-future": _eddsa(s, _claims(s, nbf=NOW + 100)),
        "wrong-aud": _eddsa(s, _claims(s, aud="other-exchange")),
        "wrong-htm": _eddsa(s, _claims(s, htm="GET")),
        "lowercase-htm": _eddsa(s, _claims(s, htm="post")),
        "wrong-htu": _eddsa(s, _claims(s, htu="/v1/inbox")),
        "htu-with-query": _eddsa(s, _claims(s, htu="/v1/bulletins?x=1")),
        "wrong-bsh": _eddsa(s, _claims(s, bsh=body_hash(b"other"))),
        "bsh-int": _eddsa(s, _claims(s, bsh=1)),
        "claims-not-object": _token(
            {"alg": "EdDSA", "typ": TYP_REQUEST, "kid": s.kid}, c, s.sign
        ).split(".")[0]
        + "."
        + b64u_encode(b"[1,2]")
        + ".AA",
        "too-long": _eddsa(s, _claims(s, pad="x" * 9000)),
        "two-parts": "a.b",
        "empty": "",
        "non-ascii": "é.é.é",
    }


def test_attack_table_is_complete(sender, other_sender) -> None:
    assert len(_cases(sender, other_sender)) >= 50


@pytest.mark.parametrize("case", sorted(_cases(Ed25519Signer.generate(), Ed25519Signer.generate())))
def test_attack(sender, other_sender, case) -> None:
    token = _cases(sender, other_sender)[case]
    with pytest.raises(AuthError):
        _verify(token, sender)


def test_bsh_for_empty_body_must_match(sender) -> None:
    token = _eddsa(sender, _claims(sender, htm="GET", htu="/v1/inbox", bsh=body_hash(b"x")))
    with pytest.raises(AuthError):
        _verify(token, sender, method="GET", path="/v1/inbox", body=None)


def test_errors_are_short_and_safe(sender, other_sender) -> None:
    for case, token in _cases(sender, other_sender).items():
        with pytest.raises(AuthError) as info:
            _verify(token, sender)
        assert len(info.value.detail) < 80, case
        assert sender.kid not in info.value.detail
