"""WebSocket subscribers in a child process, for bench/fanout.py and bench/subscribers.py.

A parent starts :class:`Subscribers` with a list of (party, client id, private
signing JWK) entries, one per connection; the child connects each one to
``/v1/stream?after=0`` with its own fresh token, answers "ready" with the count of open
connections, then records ``(seq, connection index, arrival time)`` for every bulletin
frame, as cheaply as it can (the frame's ``seq`` is read from its first bytes, the
envelope is not parsed), until the parent asks for the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import re
import time
from multiprocessing.connection import Connection
from typing import Any

_SEQ = re.compile(r'"seq": ?(\d+)')
_BULLETIN = re.compile(r'\{"kind": ?"bulletin"')


def _token(signer: Any, cid: str) -> str:
    from _bulletins import token

    return token(signer, cid, "GET", "/v1/stream", None)


async def _run(
    url: str,
    entries: list[tuple[str, str, dict[str, str]]],
    pipe: Connection,
    parallel: int,
    deadline: float,
) -> None:
    import aiohttp

    from exchange.crypto.keys import Ed25519Signer

    signers = {cid: Ed25519Signer.from_jwk(jwk) for _p, cid, jwk in entries}
    records: list[tuple[int, int, float]] = []
    closed: list[tuple[int, str]] = []
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
    sem = asyncio.Semaphore(parallel)
    opened = 0
    failed: list[str] = []

    async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        append = records.append
        now = time.time
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                m = _SEQ.search(msg.data, 0, 120)
                if m and _BULLETIN.match(msg.data):
                    append((int(m.group(1)), i, now()))
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                break
        closed.append((i, f"{ws.close_code}"))

    async def connect(i: int, cid: str) -> None:
        nonlocal opened
        async with sem:
            if time.time() > deadline:  # out of connect time: report what is open
                failed.append("connect deadline passed")
                return
            for attempt in range(3):
                try:
                    ws = await asyncio.wait_for(
                        session.ws_connect(
                            url + "/v1/stream",
                            params={"after": "0", "access_token": _token(signers[cid], cid)},
                            autoping=True,
                            max_msg_size=0,
                        ),
                        30,
                    )
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    if attempt == 2:
                        failed.append(f"{type(exc).__name__}: {exc}"[:200])
                        return
                    await asyncio.sleep(0.5)
                    continue
                sockets.append(ws)
                opened += 1
                tasks.append(asyncio.create_task(reader(i, ws)))
                return

    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter()
    jobs = [asyncio.create_task(connect(i, cid)) for i, (_p, cid, _j) in enumerate(entries)]
    _done, pending = await asyncio.wait(jobs, timeout=max(1.0, deadline - time.time()) + 35)
    for job in pending:  # still in a handshake at the deadline
        job.cancel()
        failed.append("handshake still running at the deadline")
    pipe.send(("ready", opened, time.perf_counter() - t0, failed[:5], len(failed)))
    loop = asyncio.get_running_loop()
    drained = 0
    while True:
        cmd = await loop.run_in_executor(None, pipe.recv)
        if cmd == "mark":  # frames received so far, in all
            pipe.send(("mark", drained + len(records)))
        elif cmd == "records":
            batch = records[:]
            del records[:]  # the readers keep appending to the same list
            drained += len(batch)
            pipe.send(("records", batch, closed))
        elif cmd == "stop":
            break
    for ws in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for t in tasks:
        t.cancel()
    await session.close()


def _child(
    url: str,
    entries: list[tuple[str, str, dict[str, str]]],
    pipe: Connection,
    parallel: int,
    deadline: float,
) -> None:
    from _procs import raise_nofile

    raise_nofile(len(entries) + 1024)
    asyncio.run(_run(url, entries, pipe, parallel, deadline))


class Subscribers:
    """One child process holding many stream connections."""

    def __init__(
        self,
        url: str,
        entries: list[tuple[str, str, dict[str, str]]],
        parallel: int = 64,
        connect_seconds: float = 300,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.deadline = time.time() + connect_seconds
        self.proc = ctx.Process(
            target=_child, args=(url, entries, child, parallel, self.deadline), daemon=True
        )
        self.proc.start()

    def wait_ready(self, timeout: float | None = None) -> tuple[int, float, list[str], int]:
        if timeout is None:
            timeout = max(0.0, self.deadline - time.time()) + 90
        if not self.pipe.poll(timeout):
            raise RuntimeError("subscribers did not connect in time")
        _tag, opened, secs, errors, nfailed = self.pipe.recv()
        return opened, secs, errors, nfailed

    def count(self) -> int:
        self.pipe.send("mark")
        return int(self.pipe.recv()[1])

    def records(self) -> tuple[list[tuple[int, int, float]], list[tuple[int, str]]]:
        self.pipe.send("records")
        _tag, records, closed = self.pipe.recv()
        return records, closed

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.pipe.send("stop")
        self.proc.join(15)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
