"""Overload and slow clients (issue 7): beyond its rate a client gets 429 with
Retry-After while the others are served; beyond ``max_concurrency`` requests in flight
the node answers 503 with Retry-After and serves again once the load drops; a client
that trickles its headers or body (slowloris) is cut off after the configured deadline
and gives its slot back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from support import Harness, start_harness

from exchange.config import Limits
from exchange.crypto import tokens
from exchange.crypto.keys import Ed25519Signer


@pytest.fixture
async def make(tmp_path: Path, db_url: str) -> AsyncIterator[object]:
    started: list[Harness] = []

    async def _make(limits: Limits) -> Harness:
        h = await start_harness(tmp_path, db_url, limits=limits)
        started.append(h)
        return h

    yield _make
    for h in started:
        await h.close()


def _headers(h: Harness, cid: str, signer: Ed25519Signer, path: str, body: bytes | None = None):
    token = tokens.make_request_token(
        signer,
        client_id=cid,
        aud=h.exchange_id,
        method="POST" if body is not None else "GET",
        path=path,
        body=body,
        now=int(time.time()),
    )
    return {"Authorization": f"Bearer {token}"}


async def _problem(r: aiohttp.ClientResponse, status: int, code: str) -> dict[str, object]:
    assert r.status == status, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    body = json.loads(await r.read())
    assert body["type"] == f"urn:avsec:error:{code}" and body["status"] == status
    return body


async def test_rate_limit_429_for_the_flooder_only(make) -> None:
    h: Harness = await make(Limits(rate_per_second=5.0, rate_burst=10))
    flood_signer = await _reader(h, "FL")
    calm = {p: await _reader(h, p) for p in ("C1", "C2", "C3")}
    async with aiohttp.ClientSession() as s:

        async def get(cid: str, signer: Ed25519Signer) -> aiohttp.ClientResponse:
            hd = _headers(h, cid, signer, "/v1/directory")
            async with s.get(h.url + "/v1/directory", headers=hd) as r:
                if r.status == 429:
                    await _problem(r, 429, "rate-limited")
                await r.read()
                return r

        flood = [get("FL/ops", flood_signer) for _ in range(40)]
        within = [get(f"{p}/ops", sig) for p, sig in calm.items() for _ in range(5)]
        t0 = time.monotonic()
        answers = await asyncio.gather(*flood, *within)
        elapsed = time.monotonic() - t0
        flooded, served = answers[:40], answers[40:]
        assert all(r.status == 200 for r in served), [r.status for r in served]
        statuses = [r.status for r in flooded]
        # the burst, plus what the bucket refilled while the flood was being served
        assert 10 <= statuses.count(200) <= 10 + 5 * elapsed + 1, (statuses, elapsed)
        assert set(statuses) <= {200, 429}
        retry = max(int(r.headers["Retry-After"]) for r in flooded if r.status == 429)
        assert 1 <= retry <= 60
        await asyncio.sleep(retry)
        hd = _headers(h, "FL/ops", flood_signer, "/v1/directory")
        async with s.get(h.url + "/v1/directory", headers=hd) as r:
            assert r.status == 200  # served again once it keeps to its rate


async def _reader(h: Harness, party: str) -> Ed25519Signer:
    await h.admin.admin("POST", "/v1/admin/parties", {"id": party, "name": party, "kind": "state"})
    return await _client(h, party)


async def _client(h: Harness, party: str) -> Ed25519Signer:
    signer = Ed25519Signer.generate()
    await h.admin.admin(
        "POST",
        "/v1/admin/clients",
        {"id": f"{party}/ops", "party": party, "roles": ["reader"], "jwk": signer.public.to_jwk()},
    )
    return signer


async def _open_slow(
    h: Harness, path: str, declared: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Headers of a POST with a body of ``declared`` bytes, of which one is sent."""
    port = int(h.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/jose\r\n"
        f"Content-Length: {declared}\r\n\r\nx".encode()
    )
    await writer.drain()
    return reader, writer


async def test_beyond_max_concurrency_503_then_served_again(make) -> None:
    h: Harness = await make(Limits(max_concurrency=4, body_timeout=30.0))
    held = [await _open_slow(h, "/v1/bulletins", 100) for _ in range(4)]
    await asyncio.sleep(0.2)  # four handlers are now waiting for their bodies
    async with aiohttp.ClientSession() as s:
        for path in ("/v1/health", "/v1/directory"):
            async with s.get(h.url + path) as r:
                await _problem(r, 503, "overloaded")
                assert int(r.headers["Retry-After"]) >= 1
        for reader, writer in held:  # the load drops: each finishes its body
            writer.write(b"y" * 99)
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert answer.startswith(b"HTTP/1.1 401 "), answer  # it had no token
            writer.close()
        async with s.get(h.url + "/v1/health") as r:
            assert r.status == 200


async def test_slow_body_is_cut_off_with_408_and_frees_its_slot(
    make, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_concurrency=2, body_timeout=1.0, body_min_rate=1_000_000)
    h: Harness = await make(limits)
    t0 = time.monotonic()
    slow = [await _open_slow(h, "/v1/bulletins", 5000) for _ in range(2)]

    async def trickle(writer: asyncio.StreamWriter) -> None:
        for _ in range(30):  # a byte a second, far below any reasonable rate
            await asyncio.sleep(0.25)
            try:
                writer.write(b"z")
                await writer.drain()
            except (ConnectionError, OSError):
                return

    tricklers = [asyncio.create_task(trickle(w)) for _, w in slow]
    for reader, _writer in slow:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 408 "), head
        assert b"application/problem+json" in head
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 3.0, elapsed
    async with aiohttp.ClientSession() as s, s.get(h.url + "/v1/health") as r:
        assert r.status == 200  # the slots are free again
    for t in tricklers:
        t.cancel()
    for _, w in slow:
        w.close()
    assert "unhandled error" not in caplog.text


async def test_slow_or_idle_headers_are_cut_off(make) -> None:
    h: Harness = await make(Limits(header_timeout=1.0))
    port = int(h.url.rsplit(":", 1)[1])
    idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
    slow_r, slow_w = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.monotonic()
    slow_w.write(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    async def trickle() -> None:
        for ch in b"X-Slow: " + b"a" * 40:
            await asyncio.sleep(0.2)
            try:
                slow_w.write(bytes([ch]))
                await slow_w.drain()
            except (ConnectionError, OSError):
                return

    task = asyncio.create_task(trickle())
    assert await asyncio.wait_for(slow_r.read(), 5) == b""  # closed, no answer
    assert await asyncio.wait_for(idle_r.read(), 5) == b""
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0, elapsed
    task.cancel()
    for w in (idle_w, slow_w):
        w.close()
