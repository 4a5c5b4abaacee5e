"""The sender's view in the SDK: the bulletins this client's party posted, each with its
ledger in numbers (recipients, acknowledged, overdue)."""

from __future__ import annotations

from typing import Any

from exchange.client.api import ExchangeClient

__all__ = ["sent"]


async def sent(
    client: ExchangeClient, after: int = 0, limit: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """One page after the cursor ``after``; returns (items, the next cursor)."""
    _, data = await client.request("GET", "/v1/sent", params={"after": after, "limit": limit})
    return list(data["items"]), int(data["next"])
