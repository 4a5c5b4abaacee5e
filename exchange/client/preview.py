"""Who a bulletin would be sealed to, before it is posted (for a preview).

The same routing function the server applies at admission, on the client's verified
copy of the directory; the post re-seals if the server's answer differs (422)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange.client.api import ExchangeClient
from exchange.routing import recipients
from exchange.vocab import POSTING_ROLES

__all__ = ["postable_groups", "recipients_for"]


async def recipients_for(client: ExchangeClient, bulletin: Mapping[str, Any]) -> list[str]:
    d = await client.directory()
    return sorted(recipients(bulletin, client.party, d.view))


async def postable_groups(client: ExchangeClient) -> list[str]:
    """The groups this client's party may post to (chair or member), by the directory."""
    d = await client.directory()
    return sorted(
        g["id"]
        for g in d.doc.get("groups", [])
        for m in g.get("members", [])
        if m.get("party") == client.party and m.get("role") in POSTING_ROLES
    )
