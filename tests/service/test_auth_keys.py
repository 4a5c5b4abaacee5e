"""The one kid -> signing key cache (issue 19): bounded, least recently used first out,
shared by request authentication and admission, so a post parses its key once."""

from __future__ import annotations

from typing import Any

import pytest
from integration._flows import threat
from support import Harness

from exchange.crypto.keys import parse_signing_jwk
from exchange.crypto.signing import Ed25519Signer
from exchange.service import auth
from exchange.service.auth import KeyCache


def _jwk() -> tuple[str, dict[str, Any]]:
    public = Ed25519Signer.generate().public
    return public.kid, public.to_jwk()


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = KeyCache(maxsize=2)
    (a, ja), (b, jb), (c, jc) = _jwk(), _jwk(), _jwk()
    cache.parse(a, ja)
    cache.parse(b, jb)
    assert cache.get(a) is not None  # a is now the most recently used
    cache.parse(c, jc)
    assert len(cache) == 2
    assert cache.get(b) is None
    assert cache.get(a) is not None and cache.get(c) is not None


def test_a_cached_key_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(jwk: dict[str, Any]) -> Any:
        calls.append(jwk["x"])
        return parse_signing_jwk(jwk)

    monkeypatch.setattr(auth, "parse_signing_jwk", counting)
    cache = KeyCache()
    kid, jwk = _jwk()
    first = cache.parse(kid, jwk)
    assert cache.parse(kid, jwk) is first
    assert len(calls) == 1


async def test_a_post_parses_its_signing_key_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authentication and admission share one cache: the posting client's key, parsed
    for its request token, is the key admission checks the envelope with."""
    m = await harness.cac(observer=False)
    ex = harness.server.exchange
    assert ex.admissions.keys is ex.auth.keys
    parsed: list[str] = []

    def counting(jwk: dict[str, Any]) -> Any:
        key = parse_signing_jwk(jwk)
        parsed.append(key.kid)
        return key

    monkeypatch.setattr(auth, "parse_signing_jwk", counting)
    kz = m["KZ"]
    await kz.client.post(threat("KZ"))
    assert parsed.count(kz.signer.kid) == 1
    assert ex.auth.keys.get(kz.signer.kid) is not None


def test_rate_buckets_are_bounded_and_forget_the_least_recently_seen() -> None:
    """Memory stays bounded under many client ids, and a full table forgets one idle
    client, not every bucket (which would refill a limited client's bucket too)."""
    from exchange.errors import RateLimited
    from exchange.service.ratelimit import RateLimiter

    rate = RateLimiter(1.0, 1, max_clients=2)
    rate.check("limited", 0.0)  # its one token spent
    rate.check("idle", 0.0)
    with pytest.raises(RateLimited):
        rate.check("limited", 0.0)  # seen again: now the most recently seen
    rate.check("new", 0.0)  # the table is full: "idle" is forgotten
    assert len(rate._buckets) == 2
    with pytest.raises(RateLimited):  # a table cleared when full would refill it
        rate.check("limited", 0.0)
