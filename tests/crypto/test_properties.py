"""Property tests: sealing round-trips for any bulletin and recipient mix, and no input,
however broken, escapes as anything but an ``ExchangeError``."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.crypto import (
    ROUTING_FIELDS,
    TYP_BULLETIN,
    TYP_ENVELOPE,
    TYP_REQUEST,
    Ed25519Signer,
    EncryptionPrivateKey,
    _json,
    b64u_decode,
    b64u_encode,
    open_envelope,
    parse_encryption_jwk,
    parse_signing_jwk,
    seal,
    sign_compact,
    verify_envelope,
    verify_request_token,
)
from exchange.crypto.envelope import _assemble
from exchange.errors import AuthError, ExchangeError, InvalidKey

SENDER = Ed25519Signer.generate()
RESOLVE = {SENDER.kid: SENDER.public}.get
# a pool generated once: hybrid and classical keys interleaved
POOL = [EncryptionPrivateKey.generate("hybrid" if i % 2 else "x25519") for i in range(50)]
PARTIES = [f"P{i:02d}" for i in range(len(POOL))]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)

bulletins = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "bid": text.filter(bool),
        "iss": text.filter(bool),
        "groups": st.lists(text, max_size=3),
        "to": st.lists(text, max_size=3),
        "type": text,
        "priority": text,
        "tlp": text,
        "iat": st.integers(0, 2**40),
        "exp": st.none() | st.integers(0, 2**40),
        "supersedes": st.none() | text,
    },
    optional={"title": text, "lang": text, "body": json_value},
)


@SETTINGS
@given(
    bulletin=bulletins,
    chosen=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=50, unique=True),
    data=st.data(),
)
def test_open_seal_round_trip(bulletin: dict[str, Any], chosen: list[int], data: Any) -> None:
    env = seal(bulletin, SENDER, [POOL[i].public for i in chosen])
    info = verify_envelope(env, RESOLVE)
    assert info.recipient_kids == tuple(POOL[i].kid for i in chosen)
    assert info.metadata == {k: bulletin[k] for k in ROUTING_FIELDS}
    readers = data.draw(st.lists(st.sampled_from(chosen), min_size=1, max_size=3, unique=True))
    for i in readers:
        opened = open_envelope(
            env, RESOLVE, party=PARTIES[i], key=POOL[i], audience=lambda m: set(PARTIES)
        )
        assert opened.bulletin == json.loads(json.dumps(bulletin))


def _only_exchange_errors(fn: Any, *args: Any, **kw: Any) -> None:
    with contextlib.suppress(ExchangeError):
        fn(*args, **kw)


def _open(env: Any) -> None:
    open_envelope(env, RESOLVE, party=PARTIES[0], key=POOL[0], audience=lambda m: {PARTIES[0]})


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_bytes(raw: Any) -> None:
    _only_exchange_errors(verify_envelope, raw, RESOLVE)
    _only_exchange_errors(_open, raw)
    with contextlib.suppress(AuthError):
        verify_request_token(raw, RESOLVE, aud="a", method="GET", path="/", body=None, now=0)


@FUZZ
@given(json_value)
def test_signed_random_json(value: Any) -> None:
    """Random JSON under a valid outer signature reaches the JWE parser."""
    env = sign_compact(_json.dumps(value), SENDER, TYP_ENVELOPE)
    _only_exchange_errors(verify_envelope, env, RESOLVE)
    _only_exchange_errors(_open, env)
    token = sign_compact(_json.dumps(value), SENDER, TYP_REQUEST)
    with contextlib.suppress(AuthError):
        verify_request_token(token, RESOLVE, aud="a", method="GET", path="/", body=None, now=0)


BASE = seal(
    {
        "v": 1,
        "bid": "b",
        "iss": "KZ",
        "groups": [],
        "to": [PARTIES[0]],
        "type": "advisory",
        "priority": "routine",
        "tlp": "red",
        "iat": 0,
        "exp": None,
        "supersedes": None,
    },
    SENDER,
    [POOL[0].public, POOL[1].public],
)
BASE_JWE = _json.loads_object(b64u_decode(BASE.split(".")[1]))
PROTECTED = _json.loads_object(b64u_decode(BASE_JWE["protected"]))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


@FUZZ
@given(st.data())
def test_mutated_envelope_structure(data: Any) -> None:
    """Any one value of a valid JWE or its protected header replaced, then re-signed."""
    value = data.draw(json_value)
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from(_paths(PROTECTED)))
        header = _replace(PROTECTED, path, value)
        jwe = {**BASE_JWE, "protected": b64u_encode(_json.dumps(header))}
    else:
        path = data.draw(st.sampled_from(_paths(BASE_JWE)))
        jwe = _replace(BASE_JWE, path, value)
    env = sign_compact(_json.dumps(jwe), SENDER, TYP_ENVELOPE)
    _only_exchange_errors(verify_envelope, env, RESOLVE)
    _only_exchange_errors(_open, env)


@FUZZ
@given(st.binary(max_size=200) | json_value.map(_json.dumps))
def test_random_inner_plaintext(inner: bytes) -> None:
    meta = dict(PROTECTED["avsec"])
    for candidate in (inner, sign_compact(inner, SENDER, TYP_BULLETIN).encode()):
        env = _assemble(
            meta, candidate, SENDER, [(POOL[0].public, b"k" * 32)], b"k" * 32, os.urandom
        )
        _only_exchange_errors(_open, env)


@FUZZ
@given(st.data())
def test_mutated_jwks(data: Any) -> None:
    jwks = [
        SENDER.public.to_jwk(),
        SENDER.to_private_jwk(),
        POOL[0].public.to_jwk(),
        POOL[1].public.to_jwk(),
        POOL[0].to_private_jwk(),
        POOL[1].to_private_jwk(),
    ]
    jwk = data.draw(st.sampled_from(jwks))
    path = data.draw(st.sampled_from(_paths(jwk)))
    mutated = _replace(jwk, path, data.draw(json_value))
    for fn in (
        parse_signing_jwk,
        parse_encryption_jwk,
        Ed25519Signer.from_jwk,
        EncryptionPrivateKey.from_jwk,
    ):
        with contextlib.suppress(InvalidKey):
            fn(mutated)
