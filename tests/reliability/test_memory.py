"""Bounded memory (issue 7), measured on the server process itself (its RSS): many idle
stream connections cost a bounded amount each, are all still served, and are released
when they go; a flood of oversized, compressed or abandoned bodies does not grow it.

``SOCKETS`` idle streams in the default run; ``pytest -m soak`` opens ``SOAK_SOCKETS``."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import time
from pathlib import Path

import aiohttp
import pytest
from reliability._proc import ServerProcess
from reliability._world import World

from exchange.crypto import tokens
from exchange.crypto.keys import Ed25519Signer

SOCKETS = 2000
SOAK_SOCKETS = int(os.environ.get("EXCHANGE_SOAK_SOCKETS", "5000"))
PER_CLIENT = 100  # streams per reader client: well inside its rate burst (200)
MAX_PER_SOCKET = 64 * 1024  # bytes of server RSS one idle stream may cost
ROUNDS = 5  # of 10 oversized bodies, 10 gzip bombs and 10 abandoned uploads at once


async def _metric(s: aiohttp.ClientSession, url: str, name: str) -> float:
    async with s.get(url + "/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


async def idle_streams(tmp_path: Path, db_url: str, count: int) -> None:
    srv = ServerProcess(tmp_path / "ex", db_url)
    await srv.init()
    await srv.start()
    world = await World.build(srv.admin_profile, ("KZ", "UZ"))
    readers: list[tuple[str, Ed25519Signer]] = []
    for i in range(count // PER_CLIENT):
        name = f"r{i}"
        readers.append((f"UZ/{name}", await world.add_client("UZ", name, ("reader",))))
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers_done: list[asyncio.Task[None]] = []
    first: dict[int, str] = {}  # socket number -> bid of the first bulletin it got

    async def read(n: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        """An idle client still reads: that is what answers the server's pings."""
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data["kind"] == "bulletin":
                    first.setdefault(n, data["bid"])

    try:
        async with session.get(srv.url + "/v1/health") as r:
            assert r.status == 200
        before = srv.rss()
        sem = asyncio.Semaphore(64)

        async def connect(cid: str, signer: Ed25519Signer) -> None:
            async with sem:  # the token is made when it is used: it lives 60 s
                token = tokens.make_request_token(
                    signer,
                    client_id=cid,
                    aud=world.exchange_id,
                    method="GET",
                    path="/v1/stream",
                    body=None,
                    now=int(time.time()),
                )
                ws = await session.ws_connect(
                    srv.url + "/v1/stream", params={"access_token": token}, heartbeat=None
                )
            readers_done.append(asyncio.create_task(read(len(sockets), ws)))
            sockets.append(ws)

        t0 = time.monotonic()
        await asyncio.gather(
            *(connect(cid, sig) for cid, sig in readers for _ in range(PER_CLIENT))
        )
        opened = time.monotonic() - t0
        assert len(sockets) == count
        live = await _metric(session, srv.url, "exchange_websocket_connections")
        assert live == count, [r for r in srv.log_records() if r["level"] != "info"][:5]
        await asyncio.sleep(1.0)
        grown = srv.rss() - before
        per = grown / count
        print(
            f"\n{count} idle streams: +{grown / 2**20:.1f} MiB RSS, {per / 1024:.1f} KiB each, "
            f"opened in {opened:.1f} s"
        )
        assert per < MAX_PER_SOCKET, f"{per:.0f} bytes per idle stream"

        # Still served: health answers at once, and a bulletin reaches every stream.
        t0 = time.monotonic()
        async with session.get(srv.url + "/v1/health") as r:
            assert r.status == 200
        assert time.monotonic() - t0 < 1.0
        env, b = world.seal("KZ", 0)
        status, data, _ = await world.post(session, "KZ", env)
        assert status == 201, data
        deadline = time.monotonic() + 120
        while len(first) < count:
            assert time.monotonic() < deadline, f"{len(first)} of {count} got the bulletin"
            await asyncio.sleep(0.2)
        assert set(first.values()) == {b["bid"]}
        assert await _metric(session, srv.url, "exchange_websocket_connections") == count

        for ws in sockets:
            await ws.close()
        sockets.clear()
        deadline = time.monotonic() + 30
        while await _metric(session, srv.url, "exchange_websocket_connections") > 0:
            assert time.monotonic() < deadline, "stream subscriptions are not released"
            await asyncio.sleep(0.2)
    finally:
        for ws in sockets:
            await ws.close()
        for t in readers_done:
            t.cancel()
        await asyncio.gather(*readers_done, return_exceptions=True)
        await session.close()
        await world.close()
        await srv.stop()
    assert not [r for r in srv.log_records() if r["level"] in ("error", "critical")]


# On SQLite only for now: on PostgreSQL the 2 s poll fallback of exchange/api/app.py wakes
# every stream, and each reads its inbox; at 2,000 streams the pool times out and the
# server answers 503 and closes streams with 1013 (docs/reliability.md, open issues).


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_idle_streams_bounded_and_served(tmp_path: Path) -> None:
    await idle_streams(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", SOCKETS)


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_idle_streams_soak(tmp_path: Path) -> None:
    await idle_streams(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", SOAK_SOCKETS)


async def test_oversized_and_abandoned_bodies_do_not_grow_memory(
    tmp_path: Path, db_url: str
) -> None:
    srv = ServerProcess(tmp_path / "ex", db_url)
    await srv.init()
    await srv.start()
    big = b"x" * (3 * 2**20)  # over the 2 MiB default
    bomb = gzip.compress(b"\0" * (64 * 2**20))  # 64 MiB once inflated
    try:
        async with aiohttp.ClientSession() as s:

            async def post(body: bytes, headers: dict[str, str]) -> int:
                try:
                    data = io.BytesIO(body)
                    async with s.post(srv.url + "/v1/bulletins", data=data, headers=headers) as r:
                        await r.read()
                        return r.status
                except aiohttp.ClientError:
                    return 0  # the server may close before reading all of it

            async def abandoned() -> None:
                _r, w = await asyncio.open_connection("127.0.0.1", srv.port)
                w.write(
                    b"POST /v1/bulletins HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
                    + b"y" * 100_000
                )
                await w.drain()
                w.close()  # gone mid-body

            await post(big, {"Content-Type": "application/jose"})  # warm up
            before = srv.rss()
            for _ in range(ROUNDS):
                statuses = await asyncio.gather(
                    *(post(big, {"Content-Type": "application/jose"}) for _ in range(10)),
                    *(
                        post(bomb, {"Content-Type": "application/jose", "Content-Encoding": "gzip"})
                        for _ in range(10)
                    ),
                    *(abandoned() for _ in range(10)),
                )
                assert set(statuses[:10]) <= {0, 413}, statuses  # over max_body
                assert set(statuses[10:20]) == {415}, statuses  # never inflated
            grown = srv.rss() - before
            print(
                f"\n{ROUNDS} x (10 oversized, 10 gzip bombs, 10 abandoned): "
                f"RSS +{grown / 2**20:.1f} MiB"
            )
            # Bounded by what is in flight (10 bodies of up to max_body, measured +26 MiB),
            # not by what is sent (5 x 30 MiB, and 5 x 640 MiB once inflated). Refused
            # bodies kept alive in reference cycles grew it by ~30 MiB a round.
            assert grown < 64 * 2**20
            async with s.get(srv.url + "/v1/health") as r:
                assert r.status == 200
    finally:
        await srv.stop()
    records = srv.log_records()
    assert not [r for r in records if "unhandled error" in r.get("msg", "")]
