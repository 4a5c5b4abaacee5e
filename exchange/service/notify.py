"""Cross-node wake-ups on PostgreSQL: LISTEN for the trigger of migration 0002.

A notification only wakes streams early; the database stays the source of truth, and a
lost notification (a dropped listener connection) delays delivery by at most the poll
interval, never loses or repeats an item."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from exchange.service.hub import Hub

__all__ = ["CHANNEL", "listen"]

log = logging.getLogger("exchange.notify")

CHANNEL = "avsec_bulletins"


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


async def listen(url: str, hub: Hub, *, retry: float = 1.0) -> None:
    """Hold a LISTEN connection until cancelled, reconnecting after failures."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    while True:
        conn: Any = None
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(
                CHANNEL, lambda _c, _pid, _ch, payload: _on_payload(hub, payload)
            )
            hub.wake_all()  # anything committed while we were not listening
            await lost.wait()
        except asyncio.CancelledError:
            raise
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("LISTEN connection failed: %s", type(exc).__name__)
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close()
        await asyncio.sleep(retry)
