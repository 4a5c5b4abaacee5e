"""Algorithm and structure confusion (PROTOCOL §3): the server and every recipient refuse
a JWE that strays from the profile, with the specific error, even when the sender signed it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exchange.crypto import _json, b64u_encode, open_envelope, seal, verify_envelope
from exchange.errors import DuplicateRecipient, MalformedEnvelope, UnsupportedAlgorithm

RECIPIENTS = ("UZ", "GE", "KG", "AM")


@pytest.fixture
def setup(helpers, sender, party_keys):
    bulletin = helpers.bulletin()
    return bulletin, seal(bulletin, sender, [party_keys[p].public for p in RECIPIENTS])


def _open(env: str, party: str, keys, resolve):
    return open_envelope(env, resolve, party=party, key=keys[party], audience=lambda m: RECIPIENTS)


def _set_protected(**changes: Any) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    def mutate(h: Any, jwe: dict[str, Any]) -> dict[str, Any]:
        header = h.protected_of(jwe)
        header.update(changes)
        return h.with_protected(jwe, header)

    return mutate


def _set_entry(i: int, **changes: Any) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    def mutate(h: Any, jwe: dict[str, Any]) -> dict[str, Any]:
        jwe["recipients"][i]["header"].update(changes)
        return jwe

    return mutate


def _set_top(**changes: Any) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    return lambda h, jwe: {**jwe, **changes}


def _duplicate_entry(h: Any, jwe: dict[str, Any]) -> dict[str, Any]:
    jwe["recipients"].append(jwe["recipients"][1])
    return jwe


STRUCTURE_CASES: dict[
    str, tuple[Callable[[Any, dict[str, Any]], dict[str, Any]], type[Exception]]
] = {
    "zip": (_set_protected(zip="DEF"), UnsupportedAlgorithm),
    "crit": (_set_protected(crit=["avsec"]), UnsupportedAlgorithm),
    "enc-A128GCM": (_set_protected(enc="A128GCM"), UnsupportedAlgorithm),
    "enc-A256CBC-HS512": (_set_protected(enc="A256CBC-HS512"), UnsupportedAlgorithm),
    "typ": (_set_protected(typ="JWE"), UnsupportedAlgorithm),
    "alg-in-protected": (_set_protected(alg="dir"), UnsupportedAlgorithm),
    "recipient-alg-RSA": (_set_entry(0, alg="RSA-OAEP"), UnsupportedAlgorithm),
    "recipient-alg-dir": (_set_entry(1, alg="dir"), UnsupportedAlgorithm),
    "recipient-alg-swap": (_set_entry(1, alg="ECDH-ES+A256KW"), MalformedEnvelope),
    "recipient-zip": (_set_entry(0, zip="DEF"), UnsupportedAlgorithm),
    "recipient-apu": (_set_entry(0, apu="QUJD"), UnsupportedAlgorithm),
    "unprotected": (_set_top(unprotected={"x": 1}), UnsupportedAlgorithm),
    "aad": (_set_top(aad="QUJD"), UnsupportedAlgorithm),
    "top-level-header": (_set_top(header={"alg": "dir"}), UnsupportedAlgorithm),
    "duplicate-recipient": (_duplicate_entry, DuplicateRecipient),
    "iv-16": (_set_top(iv="A" * 22), MalformedEnvelope),
    "tag-12": (_set_top(tag="A" * 16), MalformedEnvelope),
    "no-recipients": (_set_top(recipients=[]), MalformedEnvelope),
    "v2": (lambda h, j: _set_avsec(h, j, v=2), MalformedEnvelope),
    "iat-str": (lambda h, j: _set_avsec(h, j, iat="1790000000"), MalformedEnvelope),
    "groups-str": (lambda h, j: _set_avsec(h, j, groups="cac-avsec"), MalformedEnvelope),
    "cc-short": (lambda h, j: _set_avsec(h, j, cc="AAAA"), MalformedEnvelope),
    "avsec-extra": (lambda h, j: _set_avsec(h, j, title="x"), MalformedEnvelope),
}


def _set_avsec(h: Any, jwe: dict[str, Any], **changes: Any) -> dict[str, Any]:
    header = h.protected_of(jwe)
    header["avsec"].update(changes)
    return h.with_protected(jwe, header)


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_structure_rejected_by_server_and_recipient(helpers, sender, party_keys, setup, case):
    _, env = setup
    mutate, error = STRUCTURE_CASES[case]
    forged = helpers.resign(env, mutate(helpers, helpers.jwe_of(env)), sender)
    resolve = helpers.resolver(sender)
    with pytest.raises(error):
        verify_envelope(forged, resolve)
    with pytest.raises(error):
        _open(forged, "UZ", party_keys, resolve)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "typ": "avsec-envelope+jws"},
        {"alg": "none", "typ": "avsec-envelope+jws"},
        {"alg": "EdDSA", "typ": "avsec-bulletin+jws"},
        {"alg": "EdDSA", "typ": "avsec-envelope+jws", "zip": "DEF"},
        {"alg": "EdDSA", "typ": "avsec-envelope+jws", "crit": ["exp"]},
        {"alg": "EdDSA", "typ": "avsec-envelope+jws", "jwk": {}},
    ],
)
def test_outer_header_confusion(helpers, sender, setup, header) -> None:

    _, env = setup
    _, p, s = env.split(".")
    h = b64u_encode(_json.dumps({**header, "kid": sender.kid}))
    with pytest.raises(UnsupportedAlgorithm):
        verify_envelope(f"{h}.{p}.{s}", helpers.resolver(sender))


def test_limits(helpers, sender, party_keys, setup) -> None:
    _, env = setup
    resolve = helpers.resolver(sender)
    with pytest.raises(MalformedEnvelope):
        verify_envelope(env, resolve, max_size=len(env) - 1)
    with pytest.raises(MalformedEnvelope):
        verify_envelope(env, resolve, max_recipients=3)
    assert verify_envelope(env, resolve, max_size=len(env), max_recipients=4)


@pytest.mark.parametrize("bad", ["", "a.b", "a.b.c.d", "é.b.c", "....", b"\xff.\xfe.\xfd"])
def test_garbage_envelope(helpers, sender, bad) -> None:
    with pytest.raises(MalformedEnvelope):
        verify_envelope(bad, helpers.resolver(sender))
