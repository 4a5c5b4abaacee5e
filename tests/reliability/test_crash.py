"""Crash safety (issue 7): the real server, as its own process, is killed with SIGKILL
at random moments while several clients post bulletins concurrently; after each restart
every bulletin that got a receipt is stored, delivered to every recipient and in the
audit log at its receipt's index, the log verifies and only grew, and the database holds
no half-written admission. Envelopes whose post got no answer are posted again, as the
SDK would: each is then accepted once (201) or answered with its original receipt (200).

SQLite (WAL, synchronous=FULL) and PostgreSQL (``EXCHANGE_TEST_PG_URL``) both."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import time
from pathlib import Path

import aiohttp
import pytest
from reliability._checks import Receipted, check_consistent, check_database
from reliability._proc import ServerProcess
from reliability._world import World
from sqlalchemy import text

from exchange.client.audit import TreeHead
from exchange.crypto import jws
from exchange.crypto.keys import SigningPublicKey
from exchange.errors import ExchangeError
from exchange.store.db import Database

#: kill -9 rounds per backend (two backends: 2 x ROUNDS in a run); more with the env var
ROUNDS = int(os.environ.get("EXCHANGE_CRASH_ROUNDS", "12"))
SENDERS = ("GE", "KG", "KZ", "UZ")
CLIENTS_PER_SENDER = 2  # concurrent connections per sender: 8 clients in all
PER_ROUND = 12  # envelopes pre-sealed per client per round (more are sealed if needed)
SEED = int(os.environ.get("EXCHANGE_CRASH_SEED", str(int(time.time()))))


async def _sender(
    world: World,
    sender: str,
    envelopes: list[str],
    answered: dict[str, tuple[int, dict[str, object]]],
    in_flight: list[tuple[str, str]],
) -> None:
    """Post one envelope after another (the pre-sealed ones, then freshly sealed ones)
    until the server dies under us; the one whose request got no answer is
    ``in_flight``."""
    more = (world.seal(sender, i)[0] for i in itertools.count())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        for env in itertools.chain(envelopes, more):
            try:
                status, data, _ = await world.post(s, sender, env)
            except (aiohttp.ClientError, OSError, TimeoutError):
                in_flight.append((sender, env))
                return
            except asyncio.CancelledError:
                in_flight.append((sender, env))
                raise
            answered[env] = (status, data)


async def _directory_changes(world: World, rnd: int, done: list[str]) -> None:
    """Directory changes racing the kill, each one audit-logged with the new directory's
    digest: a group, then a member for it, round after round."""
    a = world.admin
    for i in range(1000):
        gid = f"g{rnd}-{i}"
        try:
            await a.admin("POST", "/v1/admin/groups", {"id": gid, "name": gid})
            done.append(gid)
            await a.admin("PUT", f"/v1/admin/groups/{gid}/members/AZ", {"role": "member"})
        except ExchangeError:
            return


def _receipted(key: SigningPublicKey, data: dict[str, object]) -> Receipted:
    """What a receipt promises, once its signature by the server's key is verified."""
    v = jws.verify_compact(
        str(data["receipt"]), lambda k: key if k == key.kid else None, jws.TYP_RECEIPT
    )
    p = json.loads(v.payload)
    return Receipted(
        p["bid"], p["seq"], p["iss"], tuple(p["recipients"]), p["envelope_sha256"], p["log_index"]
    )


# a round of start, post and kill: about 9 s on a Xeon with another test process beside it
@pytest.mark.slow
@pytest.mark.timeout(40 * ROUNDS)
async def test_kill9_while_posting(tmp_path: Path, db_url: str) -> None:
    rng = random.Random(SEED)
    srv = ServerProcess(tmp_path / "ex", db_url)
    await srv.init()
    await srv.start()
    world = await World.build(srv.admin_profile, ("AZ", *SENDERS))
    server_key = await world.admin.server_key()
    receipted: dict[str, Receipted] = {}
    head: TreeHead | None = None
    posted = killed_in_flight = reposted_200 = 0
    changed: list[str] = []
    try:
        for rnd in range(ROUNDS):
            batches = [
                (p, [world.seal(p, i)[0] for i in range(PER_ROUND)])
                for p in SENDERS
                for _ in range(CLIENTS_PER_SENDER)
            ]
            answered: dict[str, tuple[int, dict[str, object]]] = {}
            in_flight: list[tuple[str, str]] = []
            tasks = [
                asyncio.create_task(_sender(world, p, envs, answered, in_flight))
                for p, envs in batches
            ]
            tasks.append(asyncio.create_task(_directory_changes(world, rnd, changed)))
            await asyncio.sleep(rng.uniform(0.05, 1.0))
            await srv.kill()  # SIGKILL: no shutdown code runs
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for status, data in answered.values():
                assert status == 201, (status, data)
                r = _receipted(server_key, data)
                receipted[r.bid] = r
            posted += len(answered)
            killed_in_flight += len(in_flight)

            await srv.start()
            # What was in flight at the kill is either stored whole or not at all:
            # posting it again is accepted once, or answered with the first receipt.
            async with aiohttp.ClientSession() as s:
                for sender, env in in_flight:
                    status, data, _ = await world.post(s, sender, env)
                    assert status in (200, 201), (status, data)
                    reposted_200 += status == 200
                    r = _receipted(server_key, data)
                    receipted[r.bid] = r
            counts = await check_database(db_url)
            head = await check_consistent(world, receipted, head)
            # The directory a client seals with must match the digest logged for its
            # version (N8.3), also when the change before it was cut short by the kill.
            async with world.sdk("AZ", verify_log=True) as reader:
                d = await reader.directory()
                assert set(changed) <= {g["id"] for g in d.doc["groups"]}, "a group is lost"
            assert counts["bulletins"] >= len(receipted)
        print(
            f"\ncrash[{db_url.split(':', 1)[0]}] seed={SEED} rounds={ROUNDS} "
            f"receipted={len(receipted)} answered={posted} in_flight_at_kill={killed_in_flight} "
            f"reposted_already_stored={reposted_200} directory_changes={len(changed)} "
            f"log={head.size if head else 0}"
        )
    finally:
        await world.close()
        await srv.stop()


async def test_the_checks_see_a_half_written_admission(tmp_path: Path, db_url: str) -> None:
    """The crash checks can fail: a delivery, an audit leaf or a bulletin removed behind
    the server's back is each reported."""
    srv = ServerProcess(tmp_path / "ex", db_url)
    await srv.init()
    await srv.start()
    world = await World.build(srv.admin_profile, ("AZ", "KZ", "UZ"))
    try:
        async with aiohttp.ClientSession() as s:
            for i in range(3):
                status, data, _ = await world.post(s, "KZ", world.seal("KZ", i)[0])
                assert status == 201, data
        await check_database(db_url)
        db = Database(db_url)
        try:
            for statement, complaint in (
                (
                    "DELETE FROM deliveries WHERE seq = (SELECT MIN(seq) FROM bulletins)",
                    "deliveries",
                ),
                (
                    "DELETE FROM bulletins WHERE seq = (SELECT MAX(seq) FROM bulletins)",
                    "deliveries without",
                ),
            ):
                await db.run_write(lambda c, st=statement: c.execute(text(st)))
                with pytest.raises(AssertionError, match=complaint):
                    await check_database(db_url)
        finally:
            await db.close()
    finally:
        await world.close()
        await srv.stop()
