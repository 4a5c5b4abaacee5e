"""Catch-up: a subscriber resuming after ``--bulletins`` bulletins were posted for it.

Run: ``python bench/catchup.py [--bulletins 100000] [--recipients 6] [--repeat 3]
[--profile DIR]``.

The bulletins (each delivered to ``--recipients`` States, the subscriber's among them)
are written straight into the database with the exchange's own schema
(``exchange.store.schema``: ``bulletins`` and ``deliveries`` rows, as
``exchange.store.bulletins.insert_bulletin`` writes them, in batches with executemany):
posting 100,000 through the API would take longer than the benchmark may. Every row
holds the same real sealed envelope (hybrid keys, ~1.5 KiB bulletin) under its own bid;
the subscriber does not open them, and the server never reads inside an envelope on
this path. The audit log is not written (the stream does not read it). The WAL is then
checkpointed, as a serving exchange's is as it goes.

Then a client process connects ``GET /v1/stream?after=0`` and reads until it has the
newest ``seq``: items/s = items / (last arrival - connect). Also measured: paging the same
backlog with ``GET /v1/inbox?after=…&limit=1000`` (a fresh token per page; first repeat
only). Target: stream
>= 20,000 items/s. Prints the server's and the client's CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import time
import uuid
from pathlib import Path
from typing import Any

from _bulletins import bulletin, seal_many, token
from _machine import loadavg, print_machine
from _parties import Party, enrol
from _procs import CpuMeter, proc_cpu_seconds
from _pyspy import maybe_profile
from _servers import db_url, init_exchange, start_server, workspace
from _stats import median, table

_SEQ = re.compile(r'"seq": ?(\d+)')
_BULLETIN = re.compile(r'\{"kind": ?"bulletin"')


def fill(workdir: Path, envelope: str, n: int, sender: Party, recipients: list[str]) -> float:
    """Insert ``n`` bulletins for ``recipients`` straight into the database."""
    import hashlib

    from sqlalchemy import create_engine, insert, text

    from exchange.crypto import b64u_encode
    from exchange.store import schema as s

    t0 = time.perf_counter()
    engine = create_engine(db_url(workdir).replace("+aiosqlite", ""))
    digest = b64u_encode(hashlib.sha256(envelope.encode()).digest())
    cid, signer = sender.clients[0]
    now_ms = int(time.time() * 1000)
    batch = 2000
    with engine.begin() as conn:
        start = conn.execute(text("SELECT coalesce(max(seq), 0) FROM bulletins")).scalar_one()
    for lo in range(0, n, batch):
        rows, deliveries = [], []
        for i in range(lo, min(n, lo + batch)):
            seq = start + 1 + i
            bid = str(uuid.uuid4())
            rows.append(
                {
                    "seq": seq,
                    "bid": bid,
                    "iss": sender.id,
                    "client_id": cid,
                    "kid": signer.kid,
                    "type": "threat-assessment",
                    "priority": "immediate",
                    "tlp": "amber",
                    "iat": now_ms // 1000,
                    "exp": now_ms // 1000 + 7 * 86400,
                    "supersedes": None,
                    "groups": '["grp"]',
                    "to": "[]",
                    "recipients": json.dumps(recipients, separators=(",", ":")),
                    "envelope": envelope,
                    "envelope_sha256": digest,
                    "accepted_at": now_ms,
                    "log_index": i,
                    "receipt": "",
                }
            )
            deliveries += [
                {"party": r, "seq": seq, "bid": bid, "priority": "immediate", "deadline": None}
                for r in recipients
            ]
        with engine.begin() as conn:
            conn.execute(insert(s.bulletins), rows)
            conn.execute(insert(s.deliveries), deliveries)
    # A serving exchange's WAL is checkpointed as it goes (every 1,000 pages); a backlog
    # written in one go would leave ~2 GB of WAL for the first catch-up to read through.
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return time.perf_counter() - t0


def _stream_client(url: str, cid: str, jwk: dict[str, str], target: int, out: Any) -> None:
    import aiohttp

    from exchange.crypto.keys import Ed25519Signer

    signer = Ed25519Signer.from_jwk(jwk)

    async def run() -> dict[str, float]:
        count, first, last = 0, 0.0, 0.0
        async with aiohttp.ClientSession() as session:
            t0 = time.time()
            async with session.ws_connect(
                url + "/v1/stream",
                params={
                    "after": "0",
                    "access_token": token(signer, cid, "GET", "/v1/stream", None),
                },
                max_msg_size=0,
            ) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    if not _BULLETIN.match(msg.data):
                        continue
                    count += 1
                    if count == 1:
                        first = time.time()
                    m = _SEQ.search(msg.data, 0, 120)
                    if m and int(m.group(1)) >= target:
                        last = time.time()
                        break
        return {"t0": t0, "first": first, "last": last, "count": count}

    t_cpu = time.process_time()
    res = asyncio.run(run())
    res["cpu_s"] = time.process_time() - t_cpu
    out.send(res)


def stream_catchup(url: str, reader: Party, target: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    cid, signer = reader.clients[0]
    proc = ctx.Process(
        target=_stream_client, args=(url, cid, signer.to_private_jwk(), target, child)
    )
    proc.start()
    try:
        if not parent.poll(600):
            raise RuntimeError("the stream client did not finish in 600 s")
        res: dict[str, float] = parent.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return res


async def inbox_catchup(url: str, reader: Party, target: int) -> dict[str, float]:
    import aiohttp

    cid, signer = reader.clients[0]
    after, count = 0, 0
    t_cpu = time.process_time()
    async with aiohttp.ClientSession() as session:
        t0 = time.time()
        while after < target:
            tok = token(signer, cid, "GET", "/v1/inbox", None)
            async with session.get(
                url + "/v1/inbox",
                params={"after": str(after), "limit": "1000"},
                headers={"Authorization": f"Bearer {tok}"},
            ) as r:
                data = await r.json()
            count += len(data["items"])
            if not data["items"]:
                break
            after = data["next"]
        t1 = time.time()
    return {"t0": t0, "first": t0, "last": t1, "count": count, "cpu_s": time.process_time() - t_cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bulletins", type=int, default=100_000)
    p.add_argument("--recipients", type=int, default=6, help="recipients per bulletin")
    p.add_argument("--repeat", type=int, default=3, help="catch-ups from the same backlog")
    p.add_argument("--profile", metavar="DIR", help="py-spy the server into DIR")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()

    sender = Party.make("SRC")
    others = [Party.make(f"R{i:02d}") for i in range(args.recipients)]
    reader = others[0]
    parties = [sender, *others]
    b = bulletin("SRC", ["grp"], now=int(time.time()))
    env = seal_many(parties, [(b, sender.clients[0][0], [o.id for o in others])], workers=1)[0]
    settings = {
        "backlog": f"{args.bulletins:,} bulletins for the subscriber, each to "
        f"{args.recipients} States, envelope {len(env):,} bytes (hybrid keys)",
        "server": "bench/_server.py (exchange.node.serve), SQLite WAL synchronous=FULL",
        "client": "one aiohttp WebSocket in its own process, reads the seq of each frame only",
        "repeats": f"{args.repeat} stream catch-ups over the same backlog on one server (run 1 "
        "cold, the rest warm); one inbox catch-up, right after stream run 1",
    }
    print_machine("bench/catchup.py", settings, workdir=Path("/tmp"))

    rows = []
    with workspace(args.keep) as wd:
        asyncio.run(init_exchange(wd))
        server = start_server(wd)
        try:
            members = {"SRC": "chair"} | {o.id: "member" for o in others}
            secs = asyncio.run(enrol(wd, server.url, parties, {"grp": members}))
            secs = fill(wd, env, args.bulletins, sender, [o.id for o in others])
            size = (wd / "exchange.db").stat().st_size + (wd / "exchange.db-wal").stat().st_size
            print(
                f"server pid {server.pid}; inserted {args.bulletins:,} bulletins in {secs:.1f} s "
                f"({args.bulletins / secs:,.0f}/s); database {size / 2**20:,.0f} MiB",
                flush=True,
            )
            target = args.bulletins
            for rep in range(args.repeat):
                for how in ("stream", "inbox") if rep == 0 else ("stream",):
                    load0 = loadavg()
                    meter = CpuMeter({"server": server.pid}).start()
                    cpu0 = proc_cpu_seconds(server.pid)
                    with maybe_profile(args.profile, server.pid, f"catchup-{how}-run{rep + 1}"):
                        if how == "stream":
                            res = stream_catchup(server.url, reader, target)
                        else:
                            res = asyncio.run(inbox_catchup(server.url, reader, target))
                    meter.stop()
                    wall = res["last"] - res["t0"]
                    row = {
                        "how": how,
                        "count": res["count"],
                        "per_s": res["count"] / wall if wall > 0 else float("nan"),
                        "first_ms": (res["first"] - res["t0"]) * 1000,
                        "secs": wall,
                        "server_cpu": (proc_cpu_seconds(server.pid) - cpu0) / wall * 100,
                        "client_cpu": res["cpu_s"] / wall * 100,
                        "load": load0,
                    }
                    rows.append(row)
                    print(
                        f"[run {rep + 1}] {how:<6} {row['count']:,} items in {wall:.1f} s = "
                        f"{row['per_s']:,.0f} items/s; first item after {row['first_ms']:.0f} ms; "
                        f"server CPU {row['server_cpu']:.0f} %, client CPU "
                        f"{row['client_cpu']:.0f} %; {meter.describe()}; load {load0}",
                        flush=True,
                    )
        finally:
            server.stop()

    print("\n## Results (target: stream >= 20,000 items/s, inbox >= 10,000 items/s)\n")
    print("run 1 is the first catch-up after the server started (cold: the server's caches")
    print("and the page cache of the database file); 'warm median' leaves it out.\n")
    out = []
    for how in ("stream", "inbox"):
        rs = [r for r in rows if r["how"] == how]
        for label, sel in (
            ("run 1 (cold)", rs[:1]),
            ("warm median", rs[1:]),
            ("median of all", rs),
        ):
            if not sel or (label != "run 1 (cold)" and len(rs) < 2):
                continue
            out.append(
                [
                    how,
                    label,
                    median(r["count"] for r in sel),
                    median(r["per_s"] for r in sel),
                    median(r["first_ms"] for r in sel),
                    median(r["server_cpu"] for r in sel),
                    median(r["client_cpu"] for r in sel),
                    " / ".join(r["load"].split()[0] for r in sel),
                ]
            )
    head = ["path", "runs", "items", "items/s", "first item ms", "server CPU %", "client CPU %"]
    print(table([*head, "load"], out))
    print(f"\nload avg at end: {loadavg()}")


if __name__ == "__main__":
    main()
