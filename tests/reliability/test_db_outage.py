"""Database outage (issue 7, PostgreSQL): the server reaches PostgreSQL through a TCP
proxy that the test cuts. While the database is unreachable the API answers
503 problem+json quickly (no hang, no 500), ``/v1/health`` says so, a stream is closed
with 1013 (try again later); once the database is back, service resumes by itself and
the SDK's stream picks up where it stopped.

Two outages: the database refusing connections (down), and a network partition where
nothing is refused but nothing gets through (every wait is a timeout).

PostgreSQL only: the tests exist when ``EXCHANGE_TEST_PG_URL`` is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from pgdb import PG_URL, create_database, drop_database
from reliability._tcpproxy import Proxy
from support import Harness, start_harness

from exchange.bulletin.validate import new_bulletin
from exchange.crypto.envelope import seal

#: how long any answer may take while the database is out of reach: a connection is
#: given up after ServerConfig.db_connect_timeout (3 s), and closing it may take 2 s more
QUICK = 6.0


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[Harness, Proxy]]:
    """A fresh database, a proxy in front of PostgreSQL, a server that uses the proxy."""
    assert PG_URL is not None
    name, _url = await create_database("exout")
    parts = urlsplit(PG_URL)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    user = parts.username or "postgres"
    h = await start_harness(tmp_path, f"postgresql+asyncpg://{user}@127.0.0.1:{port}/{name}")
    try:
        yield h, proxy
    finally:
        await proxy.restore()
        await h.close()
        await proxy.close()
        await drop_database(name)


async def _timed(
    s: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, Any, float, Any]:
    t0 = time.monotonic()
    async with s.request(method, url, **kw) as r:
        raw = await r.read()
        took = time.monotonic() - t0
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        return r.status, body, took, r


async def _collect(client: Any, out: list[dict[str, Any]]) -> None:
    async for msg in client.stream(after=0):
        if msg.get("kind") == "bulletin":
            out.append(msg)


def _bulletin(i: int) -> dict[str, Any]:
    return new_bulletin(
        iss="KZ",
        type="advisory",
        title=f"during outage test {i}",
        body={"summary": f"item {i}"},
        now=int(time.time()),
        groups=["grp"],
        priority="routine",
        tlp="green",
    )


async def _outage(h: Harness, proxy: Proxy, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    kz = await h.enrol("KZ", key_kind="x25519")
    uz = await h.enrol("UZ", key_kind="x25519")
    await h.group("grp", {"KZ": "member", "UZ": "member"})
    keys = (await kz.client.directory(refresh=True)).keys_for(["UZ"])
    got: list[dict[str, Any]] = []
    collector = asyncio.create_task(_collect(uz.client, got))
    raw = h.members["UZ"].client
    try:
        assert (await kz.client.post(_bulletin(0))).created
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(
                h.url + "/v1/stream",
                params={"after": "999999", "access_token": raw.token("GET", "/v1/stream")},
            )
            while len(got) < 1:
                await asyncio.sleep(0.05)

            if kind == "down":
                await proxy.refuse()
            else:
                proxy.blackhole()
            # Everything that needs the database: a quick 503 problem, never a 500.
            status, body, took, _ = await _timed(s, "GET", h.url + "/v1/health")
            assert status == 503 and body == {"status": "degraded", "database": "unreachable"}
            assert took < QUICK, took
            slowest = took
            for method, path, data, ctype in (
                ("GET", "/v1/directory", None, None),
                ("GET", "/v1/inbox", None, None),
                (
                    "POST",
                    "/v1/bulletins",
                    seal(_bulletin(1), kz.signer, keys).encode(),
                    "application/jose",
                ),
            ):
                client = kz.client if method == "POST" else raw
                hd = {"Authorization": "Bearer " + client.token(method, path, data)}
                if ctype:
                    hd["Content-Type"] = ctype
                status, body, took, r = await _timed(s, method, h.url + path, data=data, headers=hd)
                assert status == 503, (path, status, body)
                assert r.content_type == "application/problem+json"
                assert body["type"] == "urn:avsec:error:unavailable", body
                assert int(r.headers["Retry-After"]) >= 1
                assert took < QUICK, (path, took)
                slowest = max(slowest, took)
            # An open stream is told to come back later once it needs the database.
            msg = await asyncio.wait_for(ws.receive(), 30)
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await asyncio.wait_for(ws.receive(), 30)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1013, msg

            await proxy.restore()
            t0 = time.monotonic()
            while True:  # recovers by itself: no restart, no operator
                status, _, _, _ = await _timed(s, "GET", h.url + "/v1/health")
                if status == 200:
                    break
                assert time.monotonic() - t0 < 30, "no recovery after the database returned"
                await asyncio.sleep(0.2)
            recovered = time.monotonic() - t0
            receipts = [await kz.client.post(_bulletin(i)) for i in range(2, 5)]
            assert all(r.created for r in receipts)
            deadline = time.monotonic() + 30
            while len(got) < 4:  # the SDK's stream resumed after its last seq
                assert time.monotonic() < deadline, got
                await asyncio.sleep(0.05)
            seqs = [m["seq"] for m in got]
            assert seqs == sorted(set(seqs)) and len(seqs) == 4
            print(
                f"\n{kind}: 503 within {slowest:.1f} s; "
                f"recovered {recovered:.1f} s after the database came back"
            )
            await ws.close()
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
    assert "unhandled error" not in caplog.text


if PG_URL:

    @pytest.mark.timeout(120)
    async def test_database_down(
        proxied: tuple[Harness, Proxy], caplog: pytest.LogCaptureFixture
    ) -> None:
        await _outage(*proxied, "down", caplog)

    @pytest.mark.timeout(120)
    async def test_network_partition(
        proxied: tuple[Harness, Proxy], caplog: pytest.LogCaptureFixture
    ) -> None:
        await _outage(*proxied, "partition", caplog)
