"""The LISTEN connection of PostgreSQL (cross-node wake-ups, migration 0002's trigger).

A connection of its own, outside the pool: it is held open for the node's lifetime and
must not count against the transactions' connections. The store owns it; what a
notification means is decided by :mod:`exchange.service.notify`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from exchange.store.db import Database

__all__ = ["CHANNEL", "listen"]

log = logging.getLogger("exchange.notify")

#: the channel the bulletins trigger notifies (migration 0002)
CHANNEL = "avsec_bulletins"


async def listen(
    db: Database,
    on_payload: Callable[[str], None],
    on_connected: Callable[[], None],
    *,
    retry: float = 1.0,
) -> None:
    """Hold a LISTEN connection until cancelled, reconnecting after failures.
    ``on_connected`` runs after each (re)connection: anything committed while nobody
    listened was not notified."""
    import asyncpg

    dsn = db.dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
    while True:
        conn: Any = None
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: on_payload(payload))
            on_connected()
            await lost.wait()
        except asyncio.CancelledError:
            raise
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("LISTEN connection failed: %s", type(exc).__name__)
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close()
        await asyncio.sleep(retry)
