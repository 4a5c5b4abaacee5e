"""Ingest: accepted bulletins per second through ``POST /v1/bulletins`` on a real server
process, against the CEILING of the same cryptographic work without storage.

Run: ``python bench/ingest.py [--shapes 6,50] [--connections 64] [--repeat 3]
[--profile DIR]``. Needs wrk (``apt-get install -y wrk``); ``--profile`` needs py-spy.

What it does, per repeat (a fresh database each time):

1. ``exchange init`` into a temporary folder; start the server (bench/_server.py, i.e.
   ``exchange.node.serve``: SQLite in WAL mode with ``synchronous=FULL``, so every
   commit is durable, and the request log written at INFO as in production).
2. Enrol 51 States with hybrid (ML-KEM-768 + X25519) encryption keys through the admin
   API; group ``g6`` has 7 of them, ``g50`` all 51. The 7 States of ``g6`` post, each
   through ``--clients`` poster clients of its own.
3. Pre-seal (once, on every core) ``--requests`` bulletins per shape: a ~1.5 KiB threat
   assessment from a State to its group, so 6 or 50 recipients; then pre-sign one
   request token per bulletin (fresh jti, body hash), write ``token<TAB>envelope``
   lines to a file, and let wrk (bench/post.lua) post each exactly once over
   ``--connections`` keep-alive connections: closed loop, as many clients as
   connections, each waiting for its answer before the next post.
4. Stop the server, start bench/ceiling_server.py (token verify + envelope verify +
   receipt sign, nothing stored) and replay the same bulletins with fresh tokens; then
   the bare aiohttp handler (no crypto) once.

Prints accepted bulletins/s (HTTP 201 answers / wrk's duration), latency p50/p90/p99
from wrk, the server's CPU use, the same for the ceiling, and ingest / ceiling; then
the median of the repeats. With ``--profile DIR`` py-spy records the server during the
ingest runs and the summary is printed (figures of profiled runs are a little lower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from _common import (
    EXCHANGE_ID,
    CpuMeter,
    Party,
    bulletin,
    enrol,
    init_exchange,
    loadavg,
    maybe_profile,
    median,
    print_machine,
    run_wrk,
    seal_many,
    start_ceiling,
    start_server,
    table,
    workspace,
    write_requests,
)

POSTERS = 7
STATES = 51


def build_world(clients: int) -> tuple[list[Party], dict[str, dict[str, str]]]:
    parties = [Party.make(f"S{i:02d}", clients if i < POSTERS else 1) for i in range(STATES)]
    g6 = {p.id: ("chair" if i == 0 else "member") for i, p in enumerate(parties[:POSTERS])}
    g50 = {p.id: ("chair" if i == 0 else "member") for i, p in enumerate(parties)}
    return parties, {"g6": g6, "g50": g50}


def jobs_for(
    shape: int, n: int, parties: list[Party], groups: dict[str, dict[str, str]]
) -> list[tuple[dict[str, Any], str, list[str]]]:
    gid = f"g{shape}"
    members = sorted(groups[gid])
    now = int(time.time())
    jobs = []
    for i in range(n):
        sender = parties[i % POSTERS]
        cid, _ = sender.clients[(i // POSTERS) % len(sender.clients)]
        recipients = [m for m in members if m != sender.id]
        jobs.append((bulletin(sender.id, [gid], now=now, n=i), cid, recipients))
    return jobs


def posts_of(
    jobs: list[tuple[dict[str, Any], str, list[str]]],
    envelopes: list[str],
    parties: list[Party],
) -> list[tuple[str, Any, str]]:
    signers = {cid: s for p in parties for cid, s in p.clients}
    return [(cid, signers[cid], env) for (_b, cid, _r), env in zip(jobs, envelopes, strict=True)]


def wrk_row(res: dict[str, Any]) -> dict[str, float]:
    secs = res["duration_us"] / 1e6
    ok = res["status"].get("201", 0)
    return {
        "per_s": ok / secs if secs else float("nan"),
        "ok": ok,
        "other": sum(v for k, v in res["status"].items() if k not in ("201", "200")),
        "p50": res["p50_us"] / 1000,
        "p90": res["p90_us"] / 1000,
        "p99": res["p99_us"] / 1000,
        "secs": secs,
    }


def one_repeat(
    rep: int,
    args: argparse.Namespace,
    parties: list[Party],
    groups: dict[str, dict[str, str]],
    shapes: dict[int, tuple[list[Any], list[str]]],
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    with workspace(args.keep) as wd:
        asyncio.run(init_exchange(wd))
        server = start_server(wd, extra=["--workers", str(args.workers)])
        try:
            secs = asyncio.run(enrol(wd, server.url, parties, groups))
            print(f"[run {rep}] server pid {server.pid}, enrolled in {secs:.1f} s", flush=True)
            for shape, (jobs, envelopes) in shapes.items():
                reqfile = wd / f"requests-{shape}.txt"
                size = write_requests(reqfile, posts_of(jobs, envelopes, parties))
                load0 = loadavg()
                meter = CpuMeter({"server": server.pid}).start()
                with maybe_profile(args.profile, server.pid, f"ingest-{shape}-run{rep}"):
                    res = run_wrk(
                        server.url, reqfile, threads=args.threads, connections=args.connections
                    )
                meter.stop()
                row = wrk_row(res)
                row.update(load=load0, cpu=meter.result.get("server cpu %", float("nan")))
                row["busy"] = meter.result["machine busy %"]
                out[shape] = {"ingest": row}
                print(
                    f"[run {rep}] ingest {shape:>2} recipients: {row['per_s']:,.0f}/s accepted "
                    f"({row['ok']} x 201, {row['other']} other, {size / len(jobs) / 1024:.1f} "
                    f"KiB/request), p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms; "
                    f"{meter.describe()}; load {load0}; status {res['status']}",
                    flush=True,
                )
        finally:
            server.stop()
        if args.skip_ceiling:
            return out
        keyfile = wd / "ceiling-keys.json"
        keys = {s.kid: s.public.to_jwk() for p in parties for _c, s in p.clients}
        keyfile.write_text(json.dumps({"exchange_id": EXCHANGE_ID, "keys": keys}))
        for bare in (False, True):
            ceiling = start_ceiling(keyfile, bare=bare)
            try:
                for shape, (jobs, envelopes) in shapes.items():
                    if bare and shape != min(shapes):
                        continue
                    reqfile = wd / f"requests-{shape}.txt"
                    write_requests(reqfile, posts_of(jobs, envelopes, parties))
                    load0 = loadavg()
                    meter = CpuMeter({"ceiling": ceiling.pid}).start()
                    res = run_wrk(
                        ceiling.url, reqfile, threads=args.threads, connections=args.connections
                    )
                    meter.stop()
                    row = wrk_row(res)
                    row.update(load=load0, cpu=meter.result.get("ceiling cpu %", float("nan")))
                    key = "bare" if bare else "ceiling"
                    out.setdefault(shape, {})[key] = row
                    print(
                        f"[run {rep}] {key:<7} {shape:>2} recipients: {row['per_s']:,.0f}/s "
                        f"({row['ok']} x 201, {row['other']} other), p50 {row['p50']:.1f} ms, "
                        f"p99 {row['p99']:.1f} ms; {meter.describe()}; load {load0}",
                        flush=True,
                    )
            finally:
                ceiling.stop()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", default="6,50", help="recipient counts (6 and/or 50)")
    p.add_argument(
        "--requests", default="6:2000,50:600", help="bulletins per shape (each posted once)"
    )
    p.add_argument("--connections", type=int, default=64, help="concurrent clients (wrk -c)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--clients", type=int, default=3, help="poster clients per posting State")
    p.add_argument(
        "--workers", type=int, default=1, help="exchange serve --workers (server processes)"
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-ceiling", action="store_true")
    p.add_argument("--profile", metavar="DIR", help="py-spy the server into DIR")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = p.parse_args()
    wanted = [int(s) for s in args.shapes.split(",")]
    try:
        counts = {int(k): int(v) for k, v in (x.split(":") for x in args.requests.split(","))}
    except ValueError:
        p.error("--requests takes SHAPE:COUNT pairs, e.g. 6:2000,50:600")

    settings = {
        "server": "bench/_server.py = exchange.node.serve, SQLite WAL synchronous=FULL, "
        "request log at INFO to a file, per-client rate limit raised, "
        f"{args.workers} server process(es)",
        "load": f"wrk -t{args.threads} -c{args.connections}, closed loop, each request once",
        "bulletins": "threat assessment ~1.5 KiB, hybrid ML-KEM-768+X25519 recipients, "
        f"shapes {wanted}, requests {counts}",
        "posters": f"{POSTERS} States x {args.clients} poster clients",
        "repeats": args.repeat,
    }
    print_machine("bench/ingest.py", settings, workdir=Path("/tmp"))

    parties, groups = build_world(args.clients)
    shapes: dict[int, tuple[list[Any], list[str]]] = {}
    for shape in wanted:
        jobs = jobs_for(shape, counts[shape], parties, groups)
        t0 = time.perf_counter()
        envelopes = seal_many(parties, jobs)
        print(
            f"sealed {len(jobs)} bulletins to {shape} recipients in "
            f"{time.perf_counter() - t0:.1f} s, {len(envelopes[0]):,} bytes each",
            flush=True,
        )
        shapes[shape] = (jobs, envelopes)

    runs = [one_repeat(r + 1, args, parties, groups, shapes) for r in range(args.repeat)]

    print("\n## Results (medians over runs; per-run lines above)\n")
    rows = []
    for shape in wanted:
        ing = [r[shape]["ingest"] for r in runs]
        ceil = [r[shape]["ceiling"] for r in runs if "ceiling" in r[shape]]
        bare = [r[shape]["bare"] for r in runs if "bare" in r[shape]]
        m_ing = median(x["per_s"] for x in ing)
        m_ceil = median(x["per_s"] for x in ceil)
        rows.append(
            [
                shape,
                m_ing,
                median(x["p50"] for x in ing),
                median(x["p99"] for x in ing),
                median(x["cpu"] for x in ing),
                m_ceil,
                median(x["p50"] for x in ceil),
                median(x["p99"] for x in ceil),
                f"{m_ing / m_ceil * 100:.0f} %" if ceil else "n/a",
                median(x["per_s"] for x in bare),
                " / ".join(x["load"].split()[0] for x in ing),
            ]
        )
    print(
        table(
            [
                "recipients",
                "ingest /s",
                "p50 ms",
                "p99 ms",
                "server CPU %",
                "ceiling /s",
                "ceil p50",
                "ceil p99",
                "ingest/ceiling",
                "bare aiohttp /s",
                "load (1 min) per run",
            ],
            rows,
        )
    )
    print(f"\nload avg at end: {loadavg()}")


if __name__ == "__main__":
    main()
