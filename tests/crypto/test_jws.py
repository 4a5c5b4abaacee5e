"""Compact JWS: exact header bytes, allow-lists before the signature, typ confusion."""

from __future__ import annotations

import pytest

from exchange.crypto import (
    TYP_ACK,
    TYP_RECEIPT,
    _json,
    b64u_decode,
    b64u_encode,
    peek_header,
    sign_compact,
    verify_compact,
)
from exchange.errors import BadSignature, MalformedEnvelope, UnknownKey, UnsupportedAlgorithm


def test_sign_and_verify(helpers, sender) -> None:
    token = sign_compact(b'{"a":1}', sender, TYP_ACK)
    h = token.split(".")[0]
    assert b64u_decode(h) == (
        b'{"alg":"EdDSA","kid":"' + sender.kid.encode() + b'","typ":"avsec-ack+jws"}'
    )
    v = verify_compact(token, helpers.resolver(sender), TYP_ACK)
    assert v.payload == b'{"a":1}'
    assert v.kid == sender.kid
    assert v.header == {"alg": "EdDSA", "kid": sender.kid, "typ": TYP_ACK}
    assert v.signing_input == token.rsplit(".", 1)[0].encode()
    assert verify_compact(token.encode(), helpers.resolver(sender), TYP_ACK) == v
    assert peek_header(token) == v.header


def test_payload_is_exact_bytes(helpers, sender) -> None:
    payload = b'{ "b" : 2 ,"a":1}\n\xff'
    token = sign_compact(payload, sender, TYP_ACK)
    assert verify_compact(token, helpers.resolver(sender), TYP_ACK).payload == payload


def test_typ_confusion(helpers, sender) -> None:
    token = sign_compact(b"{}", sender, TYP_ACK)
    with pytest.raises(UnsupportedAlgorithm):
        verify_compact(token, helpers.resolver(sender), TYP_RECEIPT)


def _forge(header: dict, payload: bytes, signer) -> str:
    signing_input = f"{b64u_encode(_json.dumps(header))}.{b64u_encode(payload)}"
    return f"{signing_input}.{b64u_encode(signer.sign(signing_input.encode()))}"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"alg": "none"}, UnsupportedAlgorithm),
        ({"alg": "HS256"}, UnsupportedAlgorithm),
        ({"alg": "Ed25519"}, UnsupportedAlgorithm),
        ({"alg": "eddsa"}, UnsupportedAlgorithm),
        ({"typ": None}, UnsupportedAlgorithm),
        ({"jwk": {"kty": "OKP"}}, UnsupportedAlgorithm),
        ({"jku": "https://evil"}, UnsupportedAlgorithm),
        ({"x5u": "https://evil"}, UnsupportedAlgorithm),
        ({"x5c": ["AAAA"]}, UnsupportedAlgorithm),
        ({"x5t": "AAAA"}, UnsupportedAlgorithm),
        ({"crit": ["b64"]}, UnsupportedAlgorithm),
        ({"b64": False}, UnsupportedAlgorithm),
        ({"zip": "DEF"}, UnsupportedAlgorithm),
        ({"kid": 5}, MalformedEnvelope),
        ({"kid": ""}, MalformedEnvelope),
    ],
)
def test_header_checks_before_signature(helpers, sender, extra, error) -> None:
    header = {"alg": "EdDSA", "kid": sender.kid, "typ": TYP_ACK, **extra}
    with pytest.raises(error):
        verify_compact(_forge(header, b"{}", sender), helpers.resolver(sender), TYP_ACK)


def test_missing_typ(helpers, sender) -> None:
    token = _forge({"alg": "EdDSA", "kid": sender.kid}, b"{}", sender)
    with pytest.raises(UnsupportedAlgorithm):
        verify_compact(token, helpers.resolver(sender), TYP_ACK)


def test_unknown_kid_and_bad_signature(helpers, sender, other_sender) -> None:
    token = sign_compact(b"{}", sender, TYP_ACK)
    with pytest.raises(UnknownKey):
        verify_compact(token, helpers.resolver(other_sender), TYP_ACK)
    # right kid, wrong key
    with pytest.raises(BadSignature):
        verify_compact(token, lambda kid: other_sender.public, TYP_ACK)
    h, p, s = token.split(".")
    for sig in (helpers.flip(s, 0), helpers.flip(s, 63, 7), s[:-2], "", "AB"):
        with pytest.raises(BadSignature):
            verify_compact(f"{h}.{p}.{sig}", helpers.resolver(sender), TYP_ACK)
    with pytest.raises(BadSignature):
        verify_compact(f"{h}.{b64u_encode(b'{ }')}.{s}", helpers.resolver(sender), TYP_ACK)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "é.a.b",
        b"\x00.\x01.\x02",
        b64u_encode(b"[1]") + ".e30.AA",
        b64u_encode(b'{"alg":"EdDSA","alg":"none"}') + ".e30.AA",
        b64u_encode(b'{"a":NaN}') + ".e30.AA",
        b64u_encode(b"\xff\xfe") + ".e30.AA",
        b64u_encode(b'{"a":"\\ud800"}') + ".e30.AA",
        "e30=.e30.AA",
        123,
    ],
)
def test_malformed(helpers, sender, token) -> None:
    with pytest.raises(MalformedEnvelope):
        verify_compact(token, helpers.resolver(sender), TYP_ACK)


def test_header_size_limit(helpers, sender) -> None:
    header = {"alg": "EdDSA", "kid": sender.kid, "typ": TYP_ACK, "pad": "x" * 10000}
    token = _forge(header, b"{}", sender)
    with pytest.raises(MalformedEnvelope):
        verify_compact(token, helpers.resolver(sender), TYP_ACK)
    with pytest.raises(MalformedEnvelope):
        peek_header(token)
    assert verify_compact(token, helpers.resolver(sender), TYP_ACK, max_header=20000)


def test_deeply_nested_header(helpers, sender) -> None:
    h = b64u_encode(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")
    with pytest.raises(MalformedEnvelope):
        verify_compact(f"{h}.e30.AA", helpers.resolver(sender), TYP_ACK, max_header=100000)
