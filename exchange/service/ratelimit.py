"""Per-client token buckets (PROTOCOL §7: 429 with Retry-After). In memory, per node."""

from __future__ import annotations

import math

from cachetools import LRUCache

from exchange.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        #: key -> (tokens, last time); the least recently seen client is forgotten first,
        #: which only ever grants it tokens
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(max_clients)

    def check(self, key: str, now: float) -> None:
        """Spend one token of ``key``'s bucket or raise :class:`RateLimited`."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(
                "rate limit exceeded for this client",
                retry_after=max(1, math.ceil((1.0 - tokens) / self.rate)),
            )
        self._buckets[key] = (tokens - 1.0, now)
