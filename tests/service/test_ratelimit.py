"""The per-client token bucket: a 429 with Retry-After when empty, bounded memory."""

from __future__ import annotations

import pytest

from exchange.errors import RateLimited
from exchange.service.ratelimit import RateLimiter


def test_an_empty_bucket_refuses_with_retry_after() -> None:
    rl = RateLimiter(rate=0.5, burst=2)
    rl.check("a", 0.0)
    rl.check("a", 0.0)
    with pytest.raises(RateLimited) as exc:
        rl.check("a", 0.0)
    assert exc.value.retry_after == 2
    rl.check("a", 2.0)  # refilled


def test_memory_is_bounded_and_the_busiest_keys_are_kept() -> None:
    rl = RateLimiter(rate=0.001, burst=1, max_clients=2)
    rl.check("a", 0.0)
    rl.check("b", 0.0)
    with pytest.raises(RateLimited):
        rl.check("a", 0.0)  # "a" is the most recently seen now
    rl.check("c", 0.0)  # full: the least recently seen key ("b") is forgotten
    assert len(rl._buckets) == 2
    with pytest.raises(RateLimited):
        rl.check("a", 0.0)  # "a" was not forgotten along with "b"
    rl.check("b", 0.0)  # forgetting only ever grants tokens
