"""The SDK call for ``GET /v1/reports`` (PROTOCOL §7, version 1.1)."""

from __future__ import annotations

from typing import Any

from exchange.client.api import ExchangeClient

__all__ = ["fetch_report"]


async def fetch_report(
    client: ExchangeClient,
    *,
    group: str | None = None,
    party: str | None = None,
    start: str | None = None,
    end: str | None = None,
    bucket: str | None = None,
) -> dict[str, Any]:
    """The report for a group, a party, or (no scope) the caller's own party; the
    operator's admin client gets the whole exchange. ``start``/``end``: a date
    (``end`` included) or an RFC 3339 time."""
    params = {
        k: v
        for k, v in (
            ("group", group),
            ("party", party),
            ("from", start),
            ("to", end),
            ("bucket", bucket),
        )
        if v is not None
    }
    _, data = await client.request("GET", "/v1/reports", params=params)
    return dict(data)
