"""``exchange serve --workers 2`` (issue 8): two processes on one port and one database.
A bulletin posted through either worker reaches a stream held by the other; a worker
killed with SIGKILL while clients post is started again, every bulletin that got a
receipt is stored, delivered and logged once, and what was in flight can be posted
again; when the supervisor itself dies, no worker is left serving."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from reliability._checks import Receipted, check_consistent, check_database
from reliability._proc import ServerProcess
from reliability._world import World
from reliability.test_crash import _receipted

SENDERS = ("GE", "KG", "KZ")


async def _wait_for(what: str, ok: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_two_workers_share_the_port_survive_a_kill_and_lose_nothing(
    tmp_path: Path, db_url: str
) -> None:
    srv = ServerProcess(tmp_path / "ex", db_url, mode="exec", serve_args=["--workers", "2"])
    await srv.init()
    await srv.start()
    try:
        await _run(srv, db_url)
    finally:
        await srv.stop()  # also when the test failed: no orphans


async def _run(srv: ServerProcess, db_url: str) -> None:
    await _wait_for("two workers", lambda: len(srv.children()) == 2)
    world = await World.build(srv.admin_profile, ("AZ", *SENDERS))
    server_key = await world.admin.server_key()
    receipted: dict[str, Receipted] = {}
    in_flight: list[tuple[str, str]] = []
    streamed: list[dict[str, object]] = []

    async def listen() -> None:
        async with world.sdk("AZ") as az:
            async for msg in az.stream():
                if msg.get("kind") == "bulletin":
                    streamed.append(msg)

    async def post_many(sender: str, n: int) -> None:
        for i in range(n):
            env, _ = world.seal(sender, i)
            # A new connection per post: the kernel spreads them over both workers.
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
                try:
                    status, data, _ = await world.post(s, sender, env)
                except (aiohttp.ClientError, OSError, TimeoutError):
                    in_flight.append((sender, env))
                    continue
            assert status == 201, (status, data)
            r = _receipted(server_key, data)
            receipted[r.bid] = r

    listener = asyncio.create_task(listen())
    try:
        posters = [asyncio.create_task(post_many(p, 40)) for p in SENDERS]
        await _wait_for("some posts", lambda: len(receipted) >= 20)
        victim = srv.children()[0]
        os.kill(victim, signal.SIGKILL)
        assert not all(p.done() for p in posters), "the kill came after the posting"
        await asyncio.gather(*posters)
        await _wait_for(
            "the killed worker to be replaced",
            lambda: len(srv.children()) == 2 and victim not in srv.children(),
        )
        async with aiohttp.ClientSession() as s:
            for sender, env in in_flight:
                status, data, _ = await world.post(s, sender, env)
                assert status in (200, 201), (status, data)
                r = _receipted(server_key, data)
                receipted[r.bid] = r
        assert len(receipted) == 3 * 40
        await check_database(db_url)
        await check_consistent(world, receipted, None)
        # AZ's one stream (on one worker, reconnecting if it was on the killed one) got
        # every bulletin, whichever worker accepted it, once and in seq order.
        await _wait_for("the stream to catch up", lambda: len(streamed) >= len(receipted))
        seqs = [int(m["seq"]) for m in streamed]  # type: ignore[call-overload]
        assert seqs == sorted(set(seqs))
        assert {m["bid"] for m in streamed} == set(receipted)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await world.close()
    workers = srv.children()
    await srv.stop()  # SIGKILL of the supervisor: the workers must not outlive it
    await _wait_for(
        "the workers to exit", lambda: not any(Path(f"/proc/{w}").exists() for w in workers)
    )
