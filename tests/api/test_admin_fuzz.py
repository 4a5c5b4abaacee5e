"""Property tests: malformed JSON, wrong types, huge strings, deep nesting and unicode
thrown at every admin and subscription route with a valid admin token. The server
never answers 5xx, and every error is an RFC 9457 problem with its four members.

One server per module (``world``) serves every example; hypothesis drives the
examples through pytest-asyncio inside the module's event loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from api._kit import Caller, Reply, World, assert_problem
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey

pytestmark = pytest.mark.asyncio(loop_scope="module")

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_SIGNING_JWK = Ed25519Signer.generate().public.to_jwk()
_ENC_JWK = EncryptionPrivateKey.generate("x25519").public.to_jwk()

#: route id -> (method, path template, a valid body or None)
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "add-party": ("POST", "/v1/admin/parties", {"id": "FZ", "name": "Fuzz", "kind": "state"}),
    "add-client": (
        "POST",
        "/v1/admin/clients",
        {"id": "FZ/ops", "party": "FZ", "roles": ["reader"], "jwk": _SIGNING_JWK},
    ),
    "add-encryption-key": ("POST", "/v1/admin/parties/{party}/encryption-keys", {"jwk": _ENC_JWK}),
    "revoke-key": ("POST", "/v1/admin/keys/{kid}/revoke", None),
    "add-group": ("POST", "/v1/admin/groups", {"id": "fz-group", "name": "Fuzz group"}),
    "set-member": ("PUT", "/v1/admin/groups/{gid}/members/{party}", {"role": "member"}),
    "remove-member": ("DELETE", "/v1/admin/groups/{gid}/members/{party}", None),
    "list-subscriptions": ("GET", "/v1/groups/{gid}/subscriptions", None),
    "put-subscription": (
        "PUT",
        "/v1/groups/{gid}/subscriptions/{source}",
        {"types": ["advisory", "threat-assessment"], "min_priority": "routine"},
    ),
    "delete-subscription": ("DELETE", "/v1/groups/{gid}/subscriptions/{source}", None),
}

# --- strategies -------------------------------------------------------------------------

_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        ["", " ", "KZ", "kz", "cac-avsec", "KZ/ops", "\u0000", "\u202e", "Ω", "🛩️", "a" * 201]
    ),
    st.integers(150, 12_000).map(lambda n: "Z" * n),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False),
    _text,
)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=25,
)


def _near_valid(template: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The route's valid body with members replaced, dropped or added."""
    if not template:
        return json_values
    keys = list(template)
    replaced = st.sampled_from(keys).flatmap(
        lambda k: json_values.map(lambda v: {**template, k: v})
    )
    dropped = st.sampled_from(keys).map(lambda k: {x: v for x, v in template.items() if x != k})
    extra = st.dictionaries(_text, json_values, max_size=3).map(lambda d: {**d, **template})
    mixed = st.dictionaries(st.sampled_from(keys) | _text, json_values, max_size=6)
    return st.one_of(st.just(template), replaced, dropped, extra, mixed)


# JSON texts that a generator of Python values cannot produce.
RAW_BODIES = [
    b"",
    b"{",
    b"}",
    b"null",
    b'"just a string"',
    b"[]",
    b"12345",
    b"\xff\xfe\x00{",
    b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
    b'{"id": NaN, "name": Infinity, "kind": -Infinity}',
    b'{"id": 1e999999, "name": "x", "kind": "state"}',
    b'{"id": ' + b"9" * 5000 + b', "name": "x"}',
    b'{"id":"\\ud800","name":"lone surrogate","kind":"state"}',
    b'{"id":"KZ","name":"\\udfff\\ud800","kind":"state"}',
    b'{"role":"\\ud83d"}',
    b'{"types":["\\udc00"],"min_priority":null}',
    b'{"id":"NU","name":"nul \\u0000 inside","kind":"state"}',
    b'{"id":"grp-nul","name":"\\u0000"}',
    b'{"role":"member\\u0000"}',
    b'{"id":"DP","id":"DQ","name":"duplicate","kind":"state"}',
    b'{"jwk":{"kty":"OKP","kty":"EC","crv":"Ed25519","x":"AAAA"}}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'{"name":"' + b"x" * 1_500_000 + b'"}',
    b'{"roles":[' + b'"reader",' * 20_000 + b'"reader"]}',
    b'{"types":' + json.dumps(["advisory"] * 10_000).encode() + b"}",
]

_raw = st.one_of(
    st.sampled_from(RAW_BODIES),
    st.binary(max_size=300),
    st.integers(1, 200_000).map(lambda n: b"[" * n),
)


def bodies(template: dict[str, Any] | None) -> st.SearchStrategy[bytes | None]:
    def encode(v: Any, ascii_only: bool) -> bytes:
        return json.dumps(v, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")

    encoded = st.builds(encode, st.one_of(_near_valid(template), json_values), st.booleans())
    return st.one_of(st.none(), encoded, encoded, _raw)


def _segment(valid: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(valid),
        st.sampled_from(valid).map(str.lower),
        st.text(min_size=1, max_size=70),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
        st.sampled_from(["%00", "%2F", "..", ".", "%", "a b", "%ZZ", "KZ%00", "\u0000"]),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pools(world: World) -> AsyncIterator[dict[str, list[str]]]:
    """Real identifiers, so that some examples reach the domain code and the database."""
    w = world
    await w.party("KZ")
    await w.party("UZ")
    await w.group("cac-avsec", {"KZ": "chair", "UZ": "member"})
    spare = await w.client("UZ", "spare", ("reader",))
    yield {
        "party": ["KZ", "UZ", "FZ", "ZZ"],
        "source": ["KZ", "UZ", "ZZ"],
        "gid": ["cac-avsec", "fz-group", "no-such-group"],
        # never the admin's own kid: revoking it would end the test's access
        "kid": [spare.signer.kid, "no-such-kid", _ENC_JWK["kid"]],
    }


def check(r: Reply, what: Any) -> None:
    assert r.status < 500, (r.status, r.raw[:300], what)
    if r.status >= 400:
        assert_problem(r, r.status)
    else:
        assert r.content_type == "application/json", (r.content_type, what)
        assert isinstance(r.data, dict)


async def _send(w: World, admin: Caller, method: str, path: str, body: bytes | None) -> Reply:
    return await w.wire.call(admin, method, path, raw_body=body)


def _path(template: str, segments: dict[str, str]) -> str:
    return template.format(**{k: quote(v, safe="%") for k, v in segments.items()})


@pytest.mark.parametrize("route", sorted(ROUTES))
@FUZZ
@given(data=st.data())
@example(data=None)
async def test_route_survives_random_input(
    world: World, pools: dict[str, list[str]], route: str, data: st.DataObject | None
) -> None:
    method, template, valid = ROUTES[route]
    names = [p[1:-1] for p in template.split("/") if p.startswith("{")]
    if data is None:  # the explicit example: every raw body on valid segments
        segments = {n: pools[n][0] for n in names}
        for body in RAW_BODIES:
            r = await _send(world, world.admin, method, _path(template, segments), body)
            check(r, (route, body[:80]))
        return
    segments = {n: data.draw(_segment(pools[n]), label=n) for n in names}
    body = data.draw(bodies(valid), label="body")
    r = await _send(world, world.admin, method, _path(template, segments), body)
    check(r, (route, segments, None if body is None else body[:120]))


# --- the inputs the fuzzing found, pinned with their exact answer ----------------------

KNOWN_BAD: list[tuple[str, str, bytes]] = [
    ("POST", "/v1/admin/parties", b'{"id":"S1","name":"\\ud800","kind":"state"}'),
    ("POST", "/v1/admin/parties", b'{"id":"S2","name":"nul\\u0000","kind":"state"}'),
    ("POST", "/v1/admin/parties", b'{"id":"S3","name":"bell\\u0007","kind":"state"}'),
    ("POST", "/v1/admin/parties", b'{"id":"S4","id":"S5","name":"dup","kind":"state"}'),
    ("POST", "/v1/admin/parties", b'{"id":"S6","name":"nan","kind":"state","x":NaN}'),
    ("POST", "/v1/admin/groups", b'{"id":"s-group","name":"\\udfff"}'),
    ("POST", "/v1/admin/groups", b'{"id":"s-group","name":"a\\u0000b"}'),
    ("PUT", "/v1/admin/groups/cac-avsec/members/UZ", b'{"role":"member","role":"chair"}'),
    ("POST", "/v1/admin/keys/%00/revoke", b""),
    ("POST", "/v1/admin/keys/a%00b/revoke", b""),
    ("POST", "/v1/admin/keys/%F0%9F%94%91/revoke", b""),
]


@pytest.mark.parametrize(("method", "path", "body"), KNOWN_BAD, ids=range(len(KNOWN_BAD)))
async def test_known_bad_input_is_a_400(
    world: World, pools: dict[str, list[str]], method: str, path: str, body: bytes
) -> None:
    before = await world.version()
    r = await _send(world, world.admin, method, path, body or None)
    assert_problem(r, 400, "invalid-request")
    assert await world.version() == before
