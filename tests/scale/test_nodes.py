"""Several server nodes on one database (issue 6): cross-node delivery, replay
protection and cursor order hold across nodes. Runs on SQLite (several processes on one
file) and on PostgreSQL when EXCHANGE_TEST_PG_URL is set."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import Connection
from support import Harness, start_harness

from exchange.bulletin.validate import new_bulletin
from exchange.config import Limits, ServerConfig
from exchange.crypto import tokens
from exchange.crypto.envelope import seal
from exchange.crypto.keys import EncryptionPrivateKey, signer_from_jwk
from exchange.node import RunningServer, open_exchange, start


async def second_node(h: Harness) -> RunningServer:
    cfg: ServerConfig = h.server.exchange.config
    ex = await open_exchange(cfg.with_(poll_interval=0.5))
    return await start(ex)


async def enrol_classical(h: Harness, parties: list[str]) -> dict[str, EncryptionPrivateKey]:
    keys = {}
    for p in parties:
        m = await h.enrol(p, key_kind="x25519")
        assert m.enc is not None
        keys[p] = m.enc
    await h.group("grp", {p: "member" for p in parties})
    return keys


async def test_jti_replay_refused_by_other_node(harness: Harness) -> None:
    node_b = await second_node(harness)
    try:
        token = harness.admin.token("GET", "/v1/directory")
        async with aiohttp.ClientSession() as s:
            h = {"Authorization": f"Bearer {token}"}
            async with s.get(harness.url + "/v1/directory", headers=h) as r:
                assert r.status == 200
            async with s.get(node_b.url + "/v1/directory", headers=h) as r:
                assert r.status == 401
                problem = await r.json(content_type=None)
                assert problem["type"] == "urn:avsec:error:unauthorized"
                assert "already used" in problem["detail"]
    finally:
        await node_b.stop()


@pytest.fixture
async def fast_harness(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    """A harness whose rate limits do not get in the way of a load test."""
    h = await start_harness(
        tmp_path, db_url, limits=Limits(rate_per_second=100_000, rate_burst=100_000)
    )
    try:
        yield h
    finally:
        await h.close()


@pytest.mark.slow
async def test_two_nodes_deliver_everything_once_in_order(fast_harness: Harness) -> None:
    """Bulletins posted concurrently through node A and node B reach subscribers on
    node B exactly once and in seq order."""
    harness = fast_harness
    total = 2000
    parties = ["AZ", "GE", "KZ", "UZ"]
    await enrol_classical(harness, parties)
    d = await harness.members["KZ"].client.directory(refresh=True)
    node_b = await second_node(harness)
    posters = {p: harness.members[p] for p in ("KZ", "UZ")}
    for m in posters.values():
        m.client.log = None  # receipts' log proofs are tested in tests/client; here: delivery
    now = int(time.time())
    envelopes: list[tuple[str, str]] = []
    for i in range(total):
        sender = "KZ" if i % 2 == 0 else "UZ"
        b = new_bulletin(
            iss=sender,
            type="advisory",
            title=f"advisory {i}",
            now=now,
            body={"summary": f"item {i}"},
            groups=["grp"],
            priority="routine",
            tlp="green",
        )
        others = [p for p in parties if p != sender]
        envelopes.append((sender, seal(b, posters[sender].signer, d.keys_for(others))))

    received: dict[str, list[int]] = {"AZ": [], "GE": []}
    expected = {"AZ": total, "GE": total}
    clients = {}
    for p in received:
        m = harness.members[p]
        c = harness.client(f"{p}/ops", m.signer, m.enc)
        c.server_url = node_b.url
        clients[p] = c

    async def follow(p: str) -> None:
        async for msg in clients[p].stream(0):
            if msg["kind"] == "bulletin":
                received[p].append(msg["seq"])
                if len(received[p]) >= expected[p]:
                    return

    followers = [asyncio.create_task(follow(p)) for p in received]
    await asyncio.sleep(0.2)
    urls = [harness.url, node_b.url]

    async def post_slice(k: int) -> None:
        for j in range(k, total, 8):
            sender, env = envelopes[j]
            c = posters[sender].client
            c.server_url = urls[j % 2]
            await c.post_envelope(env)

    try:
        await asyncio.gather(*(post_slice(k) for k in range(8)))
        await asyncio.wait_for(asyncio.gather(*followers), 60)
    finally:
        for t in followers:
            t.cancel()
        await node_b.stop()
    for p, seqs in received.items():
        assert len(seqs) == total, p
        assert seqs == sorted(seqs), f"{p} got items out of order"
        assert len(set(seqs)) == total, f"{p} got duplicates"


async def test_commit_order_equals_seq_order(tmp_path: Path, db_url: str) -> None:
    """Force two concurrent admissions: the second cannot draw a seq while the first is
    uncommitted, so a cursor reader in between never skips one that commits late."""
    from exchange.store import audit as audit_store
    from exchange.store import bulletins as bstore
    from exchange.store import inbox as inbox_store

    h = await start_harness(tmp_path, db_url)
    node_b = await second_node(h)
    ex_a, ex_b = h.server.exchange, node_b.exchange
    await h.enrol("KZ")
    await h.enrol("UZ")

    def meta(n: int) -> dict:
        return {
            "v": 1,
            "bid": f"00000000-0000-4000-8000-{n:012d}",
            "iss": "KZ",
            "groups": [],
            "to": ["UZ"],
            "type": "advisory",
            "priority": "routine",
            "tlp": "green",
            "iat": 1,
            "exp": None,
            "supersedes": None,
        }

    def insert(conn: Connection, n: int) -> int:
        audit_store.lock_log(conn)
        seq = bstore.max_seq(conn) + 1
        row = bstore.NewBulletin(
            seq=seq,
            meta=meta(n),
            client_id="KZ/ops",
            kid="k",
            envelope="e",
            envelope_sha256="h",
            recipients=["UZ"],
            accepted_at=1,
            deadline=None,
        )
        bstore.insert_bulletins(conn, [row])
        return seq

    async def admit(ex, n: int, hold: asyncio.Event | None, drawn: asyncio.Event) -> int:
        # The one place a write transaction stays open across awaits: db.py's private
        # async transaction, to hold the first admission open while the second waits.
        async with ex.db._write() as conn:
            seq = await conn.run_sync(insert, n)
            drawn.set()
            if hold is not None:
                await hold.wait()
        return seq

    def inbox(conn: Connection) -> list[dict]:
        return inbox_store.inbox_page(conn, "UZ", 0, 10, sys.maxsize)[0]

    try:
        release = asyncio.Event()
        first_drawn, second_drawn = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(admit(ex_a, 1, release, first_drawn))
        await asyncio.wait_for(first_drawn.wait(), 5)
        second = asyncio.create_task(admit(ex_b, 2, None, second_drawn))
        await asyncio.sleep(0.5)
        assert not second_drawn.is_set(), "second admission drew a seq under an open first"
        assert await ex_a.db.run_read(inbox) == []
        release.set()
        s1, s2 = await asyncio.wait_for(asyncio.gather(first, second), 15)
        assert s2 > s1
        items = await ex_a.db.run_read(inbox)
        assert [i["seq"] for i in items] == [s1, s2]
    finally:
        await node_b.stop()
        await h.close()


async def test_token_for_one_node_path_is_bound(harness: Harness) -> None:
    """htu binds the token to one path: a token made for the directory cannot read the
    audit log on another node."""
    node_b = await second_node(harness)
    try:
        signer = signer_from_jwk(
            json.loads((harness.keys_dir / "OPERATOR" / "admin" / "signing.jwk").read_text())
        )
        token = tokens.make_request_token(
            signer,
            client_id="OPERATOR/admin",
            aud=harness.exchange_id,
            method="GET",
            path="/v1/directory",
            body=None,
            now=int(time.time()),
        )
        async with (
            aiohttp.ClientSession() as s,
            s.get(node_b.url + "/v1/audit/sth", headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            assert r.status == 401
    finally:
        await node_b.stop()
