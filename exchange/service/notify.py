"""Cross-node wake-ups on PostgreSQL: what a notification of migration 0002's trigger
means for this node's streams (the LISTEN connection itself is :mod:`exchange.store.listen`).

A notification only wakes streams early; the database stays the source of truth, and a
lost notification (a dropped listener connection) delays delivery by at most the poll
interval, never loses or repeats an item."""

from __future__ import annotations

import json

from exchange.service.hub import Hub
from exchange.store import listen as listen_store
from exchange.store.db import Database

__all__ = ["CHANNEL", "listen"]

CHANNEL = listen_store.CHANNEL


def _on_payload(hub: Hub, payload: str) -> None:
    if payload == "*":
        hub.wake_all()
        return
    try:
        parties = json.loads(payload)
    except ValueError:
        hub.wake_all()
        return
    if isinstance(parties, list):
        hub.wake(str(p) for p in parties)
    else:
        hub.wake_all()


async def listen(db: Database, hub: Hub, *, retry: float = 1.0) -> None:
    """Wake this node's streams on other nodes' commits until cancelled."""
    await listen_store.listen(
        db, lambda payload: _on_payload(hub, payload), hub.wake_all, retry=retry
    )
