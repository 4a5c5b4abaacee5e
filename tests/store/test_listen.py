"""store/listen.py: the LISTEN connection of PostgreSQL hears the channel, and comes back
after its connection is killed (defined only when a PostgreSQL server is configured:
SQLite has no LISTEN, and a single SQLite node needs no cross-node wake-ups)."""

from __future__ import annotations

import asyncio
import contextlib

from pgdb import PG_URL, create_database, drop_database

from exchange.store.db import Database
from exchange.store.listen import CHANNEL, listen
from exchange.store.migrate import upgrade

if PG_URL is not None:

    async def test_listen_hears_the_channel_and_reconnects() -> None:
        name, url = await create_database("listen")
        db = Database(url)
        payloads: list[str] = []
        heard, connected = asyncio.Event(), asyncio.Event()

        def on_payload(payload: str) -> None:
            payloads.append(payload)
            heard.set()

        task: asyncio.Task[None] | None = None
        try:
            await upgrade(db)
            task = asyncio.create_task(listen(db, on_payload, connected.set, retry=0.1))
            await asyncio.wait_for(connected.wait(), 10)
            await db.run_write(lambda c: c.exec_driver_sql(f"NOTIFY {CHANNEL}, '[\"UZ\"]'"))
            await asyncio.wait_for(heard.wait(), 10)
            assert payloads == ['["UZ"]']

            connected.clear()
            killed = await db.run_write(
                lambda c: c.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                ).scalar()
            )
            assert killed == 1
            await asyncio.wait_for(connected.wait(), 10)  # listening again
            heard.clear()
            await db.run_write(lambda c: c.exec_driver_sql(f"NOTIFY {CHANNEL}, '*'"))
            await asyncio.wait_for(heard.wait(), 10)
            assert payloads == ['["UZ"]', "*"]
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await db.close()
            await drop_database(name)
