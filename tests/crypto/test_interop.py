"""Interoperability with independent JOSE libraries: the classical envelope is standard
JWE, and our JWS and request tokens are standard EdDSA JWS/JWT."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from exchange.crypto import (
    TYP_BULLETIN,
    TYP_ENVELOPE,
    TYP_REQUEST,
    b64u_decode,
    body_hash,
    make_request_token,
    seal,
    sign_compact,
    verify_compact,
    verify_request_token,
)


def test_classical_envelope_decrypts_with_jwcrypto(helpers, sender, party_keys) -> None:
    bulletin = helpers.bulletin()
    keys = [party_keys["UZ"], party_keys["AM"]]
    env = seal(bulletin, sender, [k.public for k in keys])
    # the outer JWS verifies with jwcrypto too
    outer = jwcrypto_jws.JWS()
    outer.deserialize(env)
    outer.verify(jwcrypto_jwk.JWK(**sender.public.to_jwk()))
    jwe_json = outer.payload.decode()
    assert jwe_json == verify_compact(env, helpers.resolver(sender), TYP_ENVELOPE).payload.decode()
    for key in keys:
        token = jwcrypto_jwe.JWE()
        token.deserialize(jwe_json, key=jwcrypto_jwk.JWK(**key.to_private_jwk()))
        inner = jwcrypto_jws.JWS()
        inner.deserialize(token.payload.decode())
        inner.verify(jwcrypto_jwk.JWK(**sender.public.to_jwk()))
        assert json.loads(inner.payload) == bulletin
        assert inner.jose_header["typ"] == TYP_BULLETIN


def test_jwcrypto_rejects_wrong_key(helpers, sender, party_keys) -> None:
    env = seal(helpers.bulletin(), sender, [party_keys["UZ"].public])
    _, payload, _ = env.split(".")
    token = jwcrypto_jwe.JWE()
    with pytest.raises(jwcrypto_jwe.InvalidJWEData):
        token.deserialize(
            b64u_decode(payload).decode(),
            key=jwcrypto_jwk.JWK(**party_keys["AM"].to_private_jwk()),
        )


def _pyjwt_key(signer):
    return jwt.PyJWK(signer.public.to_jwk()).key


def test_our_jws_verifies_with_pyjwt(sender) -> None:
    token = sign_compact(b'{"bid":"x","status":"read"}', sender, "avsec-ack+jws")
    decoded = jwt.api_jws.PyJWS().decode_complete(
        token, key=_pyjwt_key(sender), algorithms=["EdDSA"]
    )
    assert decoded["payload"] == b'{"bid":"x","status":"read"}'
    assert decoded["header"]["kid"] == sender.kid


def test_our_request_token_verifies_with_pyjwt(sender) -> None:
    now = int(time.time())
    token = make_request_token(
        sender, client_id="KZ/ops", aud="ex", method="GET", path="/v1/inbox", body=None, now=now
    )
    claims = jwt.decode(token, key=_pyjwt_key(sender), algorithms=["EdDSA"], audience="ex")
    assert claims["iss"] == "KZ/ops" and claims["htm"] == "GET"
    assert jwt.get_unverified_header(token)["typ"] == TYP_REQUEST


def test_pyjwt_token_verifies_with_us(sender) -> None:
    now = int(time.time())
    body = b'{"status":"read"}'
    token = jwt.encode(
        {
            "iss": "KZ/ops",
            "aud": "ex",
            "iat": now,
            "exp": now + 120,
            "jti": "pyjwt-made-token-0123456789",
            "htm": "POST",
            "htu": "/v1/bulletins/b/acks",
            "bsh": body_hash(body),
        },
        jwt.PyJWK(sender.to_private_jwk()).key,
        algorithm="EdDSA",
        headers={"kid": sender.kid, "typ": TYP_REQUEST},
    )
    claims = verify_request_token(
        token,
        {sender.kid: sender.public}.get,
        aud="ex",
        method="POST",
        path="/v1/bulletins/b/acks",
        body=body,
        now=now,
    )
    assert claims.iss == "KZ/ops" and claims.kid == sender.kid
