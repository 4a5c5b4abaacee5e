"""Ingest: accepted bulletins per second through ``POST /v1/bulletins`` on a real server
process, against the LEAN REFERENCE (bench/lean_server.py: the per-request cryptography
with ``cryptography`` directly, no project code) and the project's CEILING
(bench/ceiling_server.py: the same work through the project's crypto code), in one run.

Run: ``python bench/ingest.py [--shapes 4,50] [--connections 40] [--repeat 3]
[--client-keys hybrid,ed25519] [--server-key hybrid] [--workers 1[,2]] [--db URL]
[--profile DIR]``. Needs wrk (``apt-get install -y wrk``); ``--profile`` needs py-spy.
Issue 19's measurement is the default: 4-recipient hybrid envelopes from 40 clients.

``--workers 1,2`` measures ``exchange serve --workers 1`` and ``--workers 2`` in turn
in each repeat (each on a fresh database; the order is reversed every other repeat), and
prints their rates and the ratio 2 workers / 1 worker; the first count is the one
compared with the references. ``--db URL`` puts the exchange on PostgreSQL instead of
SQLite: the database must exist (the script says how to create it if not) and is emptied
(schema dropped and made again, as bench/reports.py ``--fresh``) before each server
start. Issue 19's worker comparison, one command per database::

    python bench/ingest.py --workers 1,2 --repeat 3
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench'   # once
    python bench/ingest.py --workers 1,2 --repeat 3 --skip-ceiling \\
        --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench

What it does, per repeat (a fresh database each time):

1. ``exchange init`` into a temporary folder; start the server (bench/_server.py, i.e.
   ``exchange.node.serve``: SQLite in WAL mode with ``synchronous=FULL``, so every
   commit is durable, or the ``--db`` PostgreSQL database; the request log written at
   INFO as in production).
2. Enrol 51 States with hybrid (ML-KEM-768 + X25519) encryption keys through the admin
   API; group ``g4`` has 5 of them, ``g6`` 7, ``g50`` all 51. Up to 7 States post, each
   through ``--clients`` poster clients per signing key kind (``--client-keys``: hybrid
   ML-DSA-65 + Ed25519 and/or Ed25519 alone), so both kinds post to one server.
3. Pre-seal (once, on every core) ``--requests`` bulletins per shape: a ~1.5 KiB threat
   assessment from a State to its group, so 6 or 50 recipients; then pre-sign one
   request token per bulletin (fresh jti, body hash), write ``token<TAB>envelope``
   lines to a file, and let wrk (bench/post.lua) post each exactly once over
   ``--connections`` keep-alive connections: closed loop, as many clients as
   connections, each waiting for its answer before the next post.
4. Stop the server, start bench/ceiling_server.py (token verify + envelope verify +
   receipt sign, nothing stored) and replay the same bulletins with fresh tokens; the
   same against bench/lean_server.py; then the bare aiohttp handler (no crypto) once.
   Receipts are signed with the ``--server-key`` kind everywhere (the exchange's own
   key is made by ``exchange init`` with that kind).

Prints, per run, accepted bulletins/s (HTTP 201 answers / wrk's duration), latency
p50/p99 from wrk, each process's CPU, the machine's load; the ratios ingest / lean,
ingest / ceiling and ceiling / lean of that run; then the median of the runs (and the
first run apart). With two client key kinds it prints the ML-DSA verify cost per post
(issue 20): hybrid / Ed25519 rates, and the extra server CPU per post (CPU seconds /
posts, which the machine's load disturbs less than a rate). With ``--profile DIR``
py-spy records the server during the ingest runs and the summary is printed (figures
of profiled runs are a little lower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from _bulletins import bulletin, seal_many, write_requests
from _ingest_report import Key, summary, workers_summary
from _machine import loadavg, print_machine
from _parties import Party, enrol
from _pg import fresh_pg, safe_url
from _procs import CpuMeter, worker_pids
from _pyspy import maybe_profile
from _servers import (
    CALLGRIND,
    EXCHANGE_ID,
    Instructions,
    init_exchange,
    start_ceiling,
    start_server,
    workspace,
)
from _wrk import run_wrk

from exchange.crypto.keys import Ed25519Signer, HybridSigner

POSTERS = 7
STATES = 51
#: the prefix of a poster client's id, by signing key kind
CLIENT_PREFIX = {"ed25519": "ops", "hybrid": "hyb"}

Jobs = list[tuple[dict[str, Any], str, list[str]]]


def build_world(clients: int, kinds: list[str]) -> tuple[list[Party], dict[str, dict[str, str]]]:
    parties = [Party.make(f"S{i:02d}", 0) for i in range(STATES)]
    for p in parties[:POSTERS]:
        for kind in kinds:
            for i in range(clients):
                signer = HybridSigner.generate() if kind == "hybrid" else Ed25519Signer.generate()
                p.clients.append((f"{p.id}/{CLIENT_PREFIX[kind]}{i}", signer))  # type: ignore[arg-type]
    for p in parties[POSTERS:]:
        p.clients.append((f"{p.id}/ops0", Ed25519Signer.generate()))

    def group(n: int) -> dict[str, str]:
        return {p.id: ("chair" if i == 0 else "member") for i, p in enumerate(parties[:n])}

    return parties, {"g4": group(5), "g6": group(7), "g50": group(STATES)}


def jobs_for(
    shape: int, n: int, kind: str, parties: list[Party], groups: dict[str, dict[str, str]]
) -> Jobs:
    gid = f"g{shape}"
    members = sorted(groups[gid])
    posters = min(POSTERS, len(members))
    now = int(time.time())
    jobs = []
    for i in range(n):
        sender = parties[i % posters]
        mine = [c for c, _ in sender.clients if c.split("/")[1].startswith(CLIENT_PREFIX[kind])]
        cid = mine[(i // posters) % len(mine)]
        recipients = [m for m in members if m != sender.id]
        jobs.append((bulletin(sender.id, [gid], now=now, n=i), cid, recipients))
    return jobs


def posts_of(jobs: Jobs, envelopes: list[str], parties: list[Party]) -> list[tuple[str, Any, str]]:
    signers = {cid: s for p in parties for cid, s in p.clients}
    return [(cid, signers[cid], env) for (_b, cid, _r), env in zip(jobs, envelopes, strict=True)]


def wrk_row(res: dict[str, Any], meter: CpuMeter, name: str, load: str) -> dict[str, Any]:
    secs = res["duration_us"] / 1e6
    ok = res["status"].get("201", 0)
    cpu = meter.result.get(f"{name} cpu %", float("nan"))
    return {
        "per_s": ok / secs if secs else float("nan"),
        "ok": ok,
        "other": sum(v for k, v in res["status"].items() if k not in ("201", "200")),
        "p50": res["p50_us"] / 1000,
        "p99": res["p99_us"] / 1000,
        "secs": secs,
        "cpu": cpu,
        # server CPU milliseconds per accepted post: less disturbed by other load than a rate
        "cpu_ms": cpu / 100 * secs / ok * 1000 if ok else float("nan"),
        "busy": meter.result["machine busy %"],
        "load": load,
        "status": res["status"],
        "describe": meter.describe(),
    }


def show(rep: int, what: str, key: Key, row: dict[str, Any]) -> None:
    print(
        f"[run {rep}] {what:<7} {key[0]:>2} recipients, {key[1]:<7} clients: "
        f"{row['per_s']:,.0f}/s ({row['ok']} x 201, {row['other']} other), "
        f"p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, {row['cpu_ms']:.2f} ms CPU/post; "
        f"{row['describe']}; load {row['load']}",
        flush=True,
    )


def measure(
    url: str,
    pid: int,
    name: str,
    reqfile: Path,
    args: argparse.Namespace,
    profile: str = "",
    workers: int = 1,
) -> tuple[dict[str, Any], CpuMeter]:
    load0 = loadavg()
    ins = Instructions(pid).start()
    pids = {name: pid}  # the server and its workers together, then each worker alone
    if workers > 1:
        pids |= {f"worker {i + 1}": w for i, w in enumerate(worker_pids(pid))}
    meter = CpuMeter(pids).start()
    with maybe_profile(args.profile if profile else None, pid, profile):
        res = run_wrk(url, reqfile, threads=args.threads, connections=args.connections)
    meter.stop()
    row = wrk_row(res, meter, name, load0)
    if workers > 1:  # each worker must have served its share of the posts
        shares = [v for k, v in meter.result.items() if k.startswith("worker ")]
        if len(shares) != workers or min(shares) < 0.25 * sum(shares) / workers:
            print(f"WARNING: {workers} workers asked, CPU per worker {shares}", flush=True)
    row["ins"] = ins.stop() / row["ok"] / 1e6 if row["ok"] else float("nan")
    if "dir" in CALLGRIND:
        row["describe"] += f"; {row['ins']:.2f} M instructions/post (callgrind)"
    return row, meter


def one_repeat(
    rep: int,
    args: argparse.Namespace,
    parties: list[Party],
    groups: dict[str, dict[str, str]],
    shapes: dict[Key, tuple[Jobs, list[str]]],
) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {key: {} for key in shapes}
    many = len(args.workers) > 1
    # several worker counts: every other repeat in the reverse order, so that a drift of
    # the machine's load does not always favour the same one
    order = args.workers if rep % 2 else args.workers[::-1]
    with workspace(args.keep) as wd:
        for n in order:
            sub = wd / f"workers{n}" if many else wd
            sub.mkdir(exist_ok=True)
            if args.db:
                asyncio.run(fresh_pg(args.db))
            asyncio.run(init_exchange(sub, signing=args.server_key, db=args.db))
            server = start_server(sub, extra=["--workers", str(n)], db=args.db)
            what = f"ingest {n}w" if many else "ingest"
            try:
                secs = asyncio.run(enrol(sub, server.url, parties, groups))
                print(f"[run {rep}] server pid {server.pid}, enrolled in {secs:.1f} s", flush=True)
                for key, (jobs, envelopes) in shapes.items():
                    reqfile = sub / f"requests-{key[0]}-{key[1]}.txt"
                    write_requests(reqfile, posts_of(jobs, envelopes, parties))
                    prof = f"ingest-{key[0]}-{key[1]}-run{rep}" + (f"-{n}w" if many else "")
                    row, _ = measure(server.url, server.pid, "server", reqfile, args, prof, n)
                    out[key][f"workers {n}"] = row
                    if n == args.workers[0]:  # the one compared with the references
                        out[key]["ingest"] = row
                    show(rep, what, key, row)
                    print(f"[run {rep}]   status {row['status']}", flush=True)
            finally:
                server.stop()
        if args.skip_ceiling:
            return out
        keyfile = wd / "ceiling-keys.json"
        keys = {s.kid: s.public.to_jwk() for p in parties for _c, s in p.clients}
        keyfile.write_text(json.dumps({"exchange_id": EXCHANGE_ID, "keys": keys}))
        for what in ("lean", "ceiling", "bare"):
            ref = start_ceiling(
                keyfile, bare=what == "bare", lean=what == "lean", server_key=args.server_key
            )
            try:
                for key, (jobs, envelopes) in shapes.items():
                    if what == "bare" and key != min(shapes):
                        continue
                    reqfile = wd / f"requests-{key[0]}-{key[1]}.txt"
                    write_requests(reqfile, posts_of(jobs, envelopes, parties))
                    row, _ = measure(ref.url, ref.pid, "ceiling", reqfile, args)
                    out.setdefault(key, {})[what] = row
                    show(rep, what, key, row)
            finally:
                ref.stop()
        for key, r in out.items():
            if "lean" in r:
                ing, lean, ceil = r["ingest"], r["lean"], r["ceiling"]
                print(
                    f"[run {rep}] ratios {key[0]:>2} recipients, {key[1]:<7} clients: "
                    f"ingest/lean {ing['per_s'] / lean['per_s'] * 100:.0f} %, "
                    f"ingest/ceiling {ing['per_s'] / ceil['per_s'] * 100:.0f} %, "
                    f"ceiling/lean {ceil['per_s'] / lean['per_s'] * 100:.0f} %",
                    flush=True,
                )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", default="4,50", help="recipient counts (4, 6 and/or 50)")
    p.add_argument(
        "--requests", default="4:2000,6:2000,50:600", help="bulletins per shape (each posted once)"
    )
    p.add_argument("--connections", type=int, default=40, help="concurrent clients (wrk -c)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--clients", type=int, default=3, help="poster clients per State and key kind")
    p.add_argument(
        "--client-keys", default="hybrid,ed25519", help="poster signing keys: hybrid, ed25519"
    )
    p.add_argument(
        "--server-key", default="hybrid", choices=("hybrid", "ed25519"), help="receipt key"
    )
    p.add_argument(
        "--workers",
        default="1",
        help="exchange serve --workers (server processes); several, e.g. 1,2: each in turn "
        "on a fresh database, and a table of their rates and ratios",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="a PostgreSQL database, emptied before each server start (default: a SQLite "
        "file in the temporary folder); e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench",
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-ceiling", action="store_true", help="no lean, ceiling or bare runs")
    p.add_argument("--profile", metavar="DIR", help="py-spy the server into DIR")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders")
    p.add_argument(
        "--callgrind",
        metavar="DIR",
        help="run the servers under valgrind's callgrind and print instructions per post "
        "(independent of the machine's load; slow: use a few hundred requests)",
    )
    args = p.parse_args()
    if args.callgrind:
        CALLGRIND["dir"] = Path(args.callgrind).resolve()
    wanted = [int(s) for s in args.shapes.split(",")]
    kinds = [k.strip() for k in args.client_keys.split(",")]
    if not set(kinds) <= set(CLIENT_PREFIX) or not set(wanted) <= {4, 6, 50}:
        p.error("--client-keys takes hybrid and/or ed25519; --shapes 4, 6 and/or 50")
    try:
        counts = {int(k): int(v) for k, v in (x.split(":") for x in args.requests.split(","))}
        args.workers = [int(n) for n in args.workers.split(",")]
    except ValueError:
        p.error("--requests takes SHAPE:COUNT pairs, e.g. 4:2000,50:600; --workers 1 or 1,2")
    if len(set(args.workers)) != len(args.workers) or min(args.workers) < 1:
        p.error("--workers takes distinct counts of at least 1, e.g. 1,2")
    if args.db and not args.db.startswith(("postgresql", "postgres:")):
        p.error("--db takes a PostgreSQL URL (SQLite is the default)")
    if args.db:  # now, not after sealing: a missing database says how to create it
        asyncio.run(fresh_pg(args.db))
    db = f"PostgreSQL ({safe_url(args.db)})" if args.db else "SQLite"
    store = f"{db}, emptied before each server start" if args.db else "SQLite WAL synchronous=FULL"

    settings = {
        "server": f"bench/_server.py = exchange.node.serve, {store}, "
        "request log at INFO to a file, per-client rate limit raised, "
        f"{'/'.join(map(str, args.workers))} server process(es), "
        f"{args.server_key} server key (receipts)",
        "references": "bench/lean_server.py (cryptography only), bench/ceiling_server.py "
        "(the project's crypto), bare aiohttp (no crypto)",
        "load": f"wrk -t{args.threads} -c{args.connections}, closed loop, each request once",
        "bulletins": "threat assessment ~1.5 KiB, hybrid ML-KEM-768+X25519 recipients, "
        f"shapes {wanted}, requests {counts}",
        "posters": f"up to {POSTERS} States x {args.clients} clients x {kinds} signing keys",
        "repeats": args.repeat,
    }
    print_machine("bench/ingest.py", settings, workdir=Path("/tmp"))

    parties, groups = build_world(args.clients, kinds)
    shapes: dict[Key, tuple[Jobs, list[str]]] = {}
    for shape in wanted:
        for kind in kinds:
            jobs = jobs_for(shape, counts[shape], kind, parties, groups)
            t0 = time.perf_counter()
            envelopes = seal_many(parties, jobs)
            print(
                f"sealed {len(jobs)} bulletins to {shape} recipients ({kind} sender keys) in "
                f"{time.perf_counter() - t0:.1f} s, {len(envelopes[0]):,} bytes each",
                flush=True,
            )
            shapes[(shape, kind)] = (jobs, envelopes)

    runs = [one_repeat(r + 1, args, parties, groups, shapes) for r in range(args.repeat)]
    summary(runs, list(shapes))
    if len(args.workers) > 1:
        workers_summary(runs, list(shapes), args.workers, db)
    print(f"\nload avg at end: {loadavg()}")


if __name__ == "__main__":
    main()
