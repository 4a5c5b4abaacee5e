"""Per-client token buckets (PROTOCOL §7: 429 with Retry-After). In memory, per node."""

from __future__ import annotations

import math

from exchange.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

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
        if len(self._buckets) >= self.max_clients and key not in self._buckets:
            self._buckets.clear()  # bounded memory; forgetting only ever grants tokens
        self._buckets[key] = (tokens - 1.0, now)
