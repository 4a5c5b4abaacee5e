"""Deliveries live in the database: a restart in the middle of a backoff loses nothing
and sends nothing twice beyond at-least-once; with two nodes on one database each push
is sent by one node only; the queue is bounded; the migration matches the schema."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from alerts._kit import MakeHarness, Receiver, fast_alerts
from integration._flows import eventually, threat
from sqlalchemy import create_engine

from exchange.client import ExchangeClient
from exchange.client import alerts as sdk
from exchange.node import RunningServer, open_exchange, start
from exchange.store import alerts as astore
from exchange.store.db import Database
from exchange.store.migrate import upgrade


async def _rows(server: RunningServer, endpoint_id: str, state: str | None = None) -> list[Any]:
    return await server.exchange.db.run_read(
        partial(astore.deliveries, endpoint_id=endpoint_id, state=state, limit=100)
    )


async def test_restart_in_the_middle_of_a_backoff(
    make_harness: MakeHarness, receiver: Receiver
) -> None:
    h = await make_harness(alerts=fast_alerts(backoff_base=3.0, backoff_max=3.0, max_attempts=5))
    m = await h.cac(observer=False)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    receiver.answers = [500]
    receipt = await m["KZ"].client.post(threat("KZ"))

    async def waiting() -> list[Any]:
        rows = await _rows(h.server, ep["id"], "pending")
        return [r for r in rows if r["attempts"] == 1]

    before = (await eventually(waiting, timeout=10))[0]
    assert before["last_error"] == "HTTP 500"
    cfg = h.server.exchange.config
    await h.close()  # the node stops while the delivery waits for its next try

    ex = await open_exchange(cfg.with_(alerts=fast_alerts(max_attempts=5)))
    server = await start(ex)
    try:

        async def done() -> list[Any]:
            return await _rows(server, ep["id"], "done")

        after = (await eventually(done, timeout=15))[0]
        assert after["nonce"] == before["nonce"] and after["attempts"] == 2
        assert len(receiver.pushes) == 2
        bodies = [json.loads(p.body) for p in receiver.pushes]
        assert {b["id"] for b in bodies} == {before["nonce"]}
        assert bodies[1]["bulletin"]["bid"] == receipt.bid
    finally:
        await server.stop()


async def test_two_nodes_send_each_push_once(make_harness: MakeHarness, receiver: Receiver) -> None:
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    second = await start(await open_exchange(h.server.exchange.config))
    try:
        kz = m["KZ"]
        other = ExchangeClient(
            server_url=second.url,
            client_id=kz.client.client_id,
            exchange_id=h.exchange_id,
            signer=kz.signer,
            encryption_key=kz.enc,
        )
        try:
            for i in range(12):
                await (kz.client if i % 2 else other).post(threat("KZ"))
        finally:
            await other.close()

        async def all_done() -> bool:
            return len(await _rows(second, ep["id"], "done")) == 12

        await eventually(all_done, timeout=20)
        ids = [json.loads(p.body)["id"] for p in receiver.pushes]
        assert len(ids) == 12 and len(set(ids)) == 12
        seqs = [json.loads(p.body)["bulletin"]["seq"] for p in receiver.pushes]
        assert seqs == sorted(seqs)  # per-endpoint order, whichever node sent
    finally:
        await second.stop()


async def test_the_queue_is_bounded(make_harness: MakeHarness, receiver: Receiver) -> None:
    h = await make_harness(alerts=fast_alerts(queue_max=2, max_attempts=50, backoff_base=30.0))
    m = await h.cac(observer=False)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    receiver.answers = [500] * 100
    for _ in range(4):
        await m["KZ"].client.post(threat("KZ"))

    async def four() -> list[Any]:
        rows = await _rows(h.server, ep["id"])
        return rows if len(rows) == 4 else []

    rows = await eventually(four, timeout=10)
    states = sorted(r["state"] for r in rows)
    assert states == ["dead", "dead", "pending", "pending"]
    assert {r["last_error"] for r in rows if r["state"] == "dead"} == {"queue full"}


async def test_migration_matches_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from exchange.store.schema import metadata

    db = Database(db_url)
    try:
        await upgrade(db)
    finally:
        await db.close()
    sync_url = db_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    if "postgresql" in sync_url:

        def diff(conn: Any) -> list[Any]:
            return compare_metadata(MigrationContext.configure(conn), metadata)

        db = Database(db_url)
        try:
            diffs = await db.run_read(diff)
        finally:
            await db.close()
    else:
        engine = create_engine(sync_url)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        engine.dispose()
    mine = [d for d in diffs if "alert" in repr(d)]
    assert mine == []
