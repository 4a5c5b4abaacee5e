"""Graceful shutdown (issue 7): on SIGTERM ``exchange serve`` stops accepting
connections, finishes the requests it has already received (one of them still uploading
its body), closes streams with 1001 (going away) and exits 0; an SDK client streaming
through it reconnects to the restarted server and resumes after its last seq, with no
gap and no duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
from reliability._proc import ServerProcess
from reliability._world import World

from exchange.crypto import tokens


async def _collect(world: World, pid: str, out: list[dict[str, Any]]) -> None:
    async with world.sdk(pid) as client:
        async for msg in client.stream(after=0):
            if msg.get("kind") == "bulletin":
                out.append(msg)


async def _until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _refused(port: int) -> bool:
    try:
        _r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:  # refused, or reset while the listening socket closed
        return True
    w.close()
    await w.wait_closed()
    return False


async def _half_posted(world: World, port: int, sender: str, envelope: str) -> Any:
    """A POST whose headers and first half of the body are sent; returns the streams."""
    p = world.parties[sender]
    body = envelope.encode()
    token = tokens.make_request_token(
        p.signer,
        client_id=p.client_id,
        aud=world.exchange_id,
        method="POST",
        path="/v1/bulletins",
        body=body,
        now=int(time.time()),
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/bulletins HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/jose\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body[: len(body) // 2])
    await writer.drain()
    return reader, writer, body[len(body) // 2 :]


async def test_sigterm_drains_closes_streams_and_sdk_resumes(tmp_path: Path, db_url: str) -> None:
    srv = ServerProcess(tmp_path / "ex", db_url, mode="exec")  # the real console script
    await srv.init()
    await srv.start()
    world = await World.build(srv.admin_profile, ("GE", "KZ", "UZ"))
    got: list[dict[str, Any]] = []
    collector = asyncio.create_task(_collect(world, "UZ", got))
    session = aiohttp.ClientSession()
    writer: asyncio.StreamWriter | None = None
    try:
        ge = world.parties["GE"]
        token = tokens.make_request_token(
            ge.signer,
            client_id=ge.client_id,
            aud=world.exchange_id,
            method="GET",
            path="/v1/stream",
            body=None,
            now=int(time.time()),
        )
        raw_ws = await session.ws_connect(srv.url + "/v1/stream", params={"access_token": token})
        for i in range(5):
            status, data, _ = await world.post(session, "KZ", world.seal("KZ", i)[0])
            assert status == 201, data
        await _until(lambda: len(got) == 5, 15, "the first five bulletins on the stream")

        reader, writer, rest = await _half_posted(world, srv.port, "KZ", world.seal("KZ", 5)[0])
        await asyncio.sleep(0.3)  # the server is now reading that body
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        refused = False
        for _ in range(50):
            if await _refused(srv.port):
                refused = True
                break
            await asyncio.sleep(0.02)
        assert refused, "still accepting connections after SIGTERM"
        writer.write(rest)  # the in-flight request completes after the signal
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
        assert b'"receipt"' in answer

        while (msg := await asyncio.wait_for(raw_ws.receive(), 10)).type == (
            aiohttp.WSMsgType.TEXT
        ):
            pass  # the bulletins before it, the in-flight one included
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        assert msg.data == aiohttp.WSCloseCode.GOING_AWAY  # 1001
        assert await srv.wait(15) == 0
        assert time.monotonic() - t0 < 10

        await srv.start()
        for i in range(6, 11):
            status, data, _ = await world.post(session, "KZ", world.seal("KZ", i)[0])
            assert status == 201, data
        await _until(lambda: len(got) >= 11, 30, "all eleven bulletins after the restart")
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        inbox = await world.inbox(session, "UZ")
        seqs = [m["seq"] for m in got]
        assert seqs == [i["seq"] for i in inbox], "stream and inbox differ (gap or duplicate)"
        assert len(set(seqs)) == len(seqs) == 11
    finally:
        if writer is not None:
            writer.close()
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        await session.close()
        await world.close()
        await srv.stop()
    records = srv.log_records()
    assert not [r for r in records if r["level"] in ("error", "critical")], srv.tail()
    assert "Traceback" not in srv.log.read_text()
