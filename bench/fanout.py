"""Fan-out: how long a posted bulletin takes to reach every recipient's live stream.

Run: ``python bench/fanout.py [--rate 200] [--seconds 10] [--repeat 2] [--profile DIR]``.

193 States (hybrid encryption keys), 20 coordination groups of 6 to 20 members (every
State in at least one), one WebSocket subscriber (``GET /v1/stream``) per State in a
separate process. The bench process posts pre-sealed bulletins at ``--rate`` per second
(open loop: one starts every 1/rate s whatever the answers), each from a random member of
a random group to that group. For every (bulletin, recipient) pair it takes:

- from receipt: arrival at the subscriber minus the receipt's ``accepted_at`` (the
  server's clock, millisecond resolution; same machine, so same clock);
- from send: arrival minus the moment the poster sent the request (includes admission).

Target: p99 from receipt <= 25 ms. Prints p50/p99/max, missing deliveries, the
admission latency, the CPU use of the server and of the clients, and the machine load.
The first ``--warmup`` seconds of each repeat are posted but not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

from _bulletins import bulletin, seal_many
from _machine import loadavg, print_machine
from _parties import Party, enrol
from _posting import post_at_rate
from _procs import CpuMeter
from _pyspy import maybe_profile
from _servers import init_exchange, start_server, workspace
from _stats import median, pct, table
from _wsclient import Subscribers

STATES = 193
GROUPS = 20


def build_world(seed: int) -> tuple[list[Party], dict[str, dict[str, str]]]:
    rng = random.Random(seed)
    parties = [Party.make(f"S{i:03d}") for i in range(STATES)]
    sizes = [rng.randint(6, 20) for _ in range(GROUPS)]
    while sum(sizes) < STATES:  # every State in at least one group
        i = rng.randrange(GROUPS)
        sizes[i] = min(20, sizes[i] + 1)
    order = [p.id for p in parties]
    groups: dict[str, dict[str, str]] = {}
    k = 0
    for g, size in enumerate(sizes):
        members: dict[str, str] = {}
        while len(members) < size:
            pid = order[k % STATES]
            k += 1
            if pid not in members:
                members[pid] = "chair" if not members else "member"
        groups[f"grp-{g:02d}"] = members
    return parties, groups


def make_jobs(
    n: int, groups: dict[str, dict[str, str]], parties: list[Party], rng: random.Random
) -> list[tuple[dict[str, Any], str, list[str]]]:
    by_id = {p.id: p for p in parties}
    now = int(time.time())
    gids = sorted(groups)
    jobs = []
    for i in range(n):
        gid = rng.choice(gids)
        members = sorted(groups[gid])
        sender = rng.choice(members)
        cid = by_id[sender].clients[0][0]
        jobs.append(
            (bulletin(sender, [gid], now=now, n=i), cid, [m for m in members if m != sender])
        )
    return jobs


def analyse(
    results: list[dict[str, Any]],
    records: list[tuple[int, int, float]],
    subscriber_party: list[str],
    t_measure: float,
) -> dict[str, Any]:
    by_seq = {r["seq"]: r for r in results if "seq" in r}
    arrivals: dict[tuple[int, str], float] = {}
    for seq, i, t in records:
        key = (seq, subscriber_party[i])
        if key not in arrivals or t < arrivals[key]:
            arrivals[key] = t
    from_receipt, from_send, missing, expected = [], [], 0, 0
    for seq, r in by_seq.items():
        if r["t_send"] < t_measure:
            continue
        for party in r["recipients"]:
            expected += 1
            t = arrivals.get((seq, party))
            if t is None:
                missing += 1
                continue
            from_receipt.append((t - r["accepted_s"]) * 1000)
            from_send.append((t - r["t_send"]) * 1000)
    measured = [r for r in results if r["t_send"] >= t_measure]
    admission = [(r["t_resp"] - r["t_send"]) * 1000 for r in measured if "t_resp" in r]
    span = max(r["t_send"] for r in measured) - min(r["t_send"] for r in measured)
    return {
        "posted": len(measured),
        "accepted": sum(1 for r in measured if r.get("status") == 201),
        "rate": len(measured) / span if span else float("nan"),
        "deliveries": expected,
        "missing": missing,
        "r50": pct(from_receipt, 50),
        "r99": pct(from_receipt, 99),
        "rmax": max(from_receipt, default=float("nan")),
        "s50": pct(from_send, 50),
        "s99": pct(from_send, 99),
        "smax": max(from_send, default=float("nan")),
        "a50": pct(admission, 50),
        "a99": pct(admission, 99),
        "errors": sorted({str(r.get("status")) for r in measured} - {"201"}),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=200.0, help="bulletins posted per second")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per repeat")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds posted but not counted")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--profile", metavar="DIR", help="py-spy the server into DIR")
    p.add_argument("--keep", action="store_true")
    p.add_argument(
        "--server-key",
        default="hybrid",
        choices=("hybrid", "ed25519"),
        help="the server's signing key (receipts); ed25519 is how docs/benchmarks.md's "
        "2026-11-21 figures were taken, before issue 20",
    )
    args = p.parse_args()

    parties, groups = build_world(args.seed)
    sizes = sorted(len(m) for m in groups.values())
    settings = {
        "world": f"{STATES} States, {GROUPS} groups, sizes {sizes}, one subscriber per State",
        "load": f"{args.rate:g} bulletins/s for {args.warmup:g} + {args.seconds:g} s, open loop, "
        "from random members to their group (hybrid keys, ~1.5 KiB bulletin)",
        "server": "bench/_server.py (exchange.node.serve), SQLite WAL synchronous=FULL, "
        f"{args.server_key} server key (every receipt is signed inside the admission "
        "transaction, after accepted_at is stamped)",
        "keys": "posters and subscribers: Ed25519 client keys; recipients: hybrid KEM keys",
        "repeats": f"{args.repeat} on one server (a fresh batch of bulletins each); run 1 "
        "is the first after the server started",
    }
    print_machine("bench/fanout.py", settings, workdir=Path("/tmp"))

    rng = random.Random(args.seed)
    per_run = round(args.rate * (args.seconds + args.warmup))
    jobs = make_jobs(per_run * args.repeat, groups, parties, rng)
    t0 = time.perf_counter()
    envelopes = seal_many(parties, jobs)
    print(f"sealed {len(jobs)} bulletins in {time.perf_counter() - t0:.1f} s", flush=True)
    signers = {cid: s for q in parties for cid, s in q.clients}
    posts = [(cid, signers[cid], env) for (_b, cid, _r), env in zip(jobs, envelopes, strict=True)]

    runs = []
    with workspace(args.keep) as wd:
        asyncio.run(init_exchange(wd, signing=args.server_key))
        server = start_server(wd)
        subs = None
        try:
            secs = asyncio.run(enrol(wd, server.url, parties, groups))
            print(f"server pid {server.pid}; enrolled in {secs:.1f} s", flush=True)
            entries = [(q.id, q.clients[0][0], q.clients[0][1].to_private_jwk()) for q in parties]
            subs = Subscribers(server.url, entries)
            opened, csecs, errors, nfailed = subs.wait_ready()
            print(f"{opened} subscribers connected in {csecs:.1f} s; failures {nfailed} {errors}")
            party_of = [e[0] for e in entries]
            for rep in range(args.repeat):
                batch = posts[rep * per_run : (rep + 1) * per_run]
                load0 = loadavg()
                meter = CpuMeter({"server": server.pid, "subscribers": subs.proc.pid or 0}).start()
                t_measure = time.time() + args.warmup
                with maybe_profile(args.profile, server.pid, f"fanout-run{rep + 1}"):
                    results = asyncio.run(post_at_rate(server.url, batch, args.rate))
                    time.sleep(1.0)  # let the last deliveries arrive
                meter.stop()
                records, closed = subs.records()
                row = analyse(results, records, party_of, t_measure)
                row.update(load=load0, cpu=meter.describe())
                row["server_cpu"] = meter.result.get("server cpu %", float("nan"))
                runs.append(row)
                print(
                    f"[run {rep + 1}] posted {row['posted']} at {row['rate']:.0f}/s, "
                    f"accepted {row['accepted']} {row['errors'] or ''}; deliveries "
                    f"{row['deliveries']} (missing {row['missing']}); from receipt p50 "
                    f"{row['r50']:.1f} p99 {row['r99']:.1f} max {row['rmax']:.1f} ms; from send "
                    f"p50 {row['s50']:.1f} p99 {row['s99']:.1f} max {row['smax']:.1f} ms; "
                    f"admission p50 {row['a50']:.1f} p99 {row['a99']:.1f} ms; {row['cpu']}; "
                    f"load {load0}; streams closed {len(closed)}",
                    flush=True,
                )
        finally:
            if subs is not None:
                subs.stop()
            server.stop()

    print("\n## Results (each run, then the median; target: p99 from receipt <= 25 ms)\n")
    keys = ("rate", "deliveries", "missing", "r50", "r99", "rmax", "s50", "s99", "smax", "a99")
    rows: list[list[Any]] = [
        [f"run {i + 1}", *(r[k] for k in keys), r["server_cpu"], r["load"].split()[0]]
        for i, r in enumerate(runs)
    ]
    rows.append(["median", *(median(r[k] for r in runs) for k in keys)])
    rows[-1].append(median(r["server_cpu"] for r in runs))
    rows[-1].append(" / ".join(r["load"].split()[0] for r in runs))
    print(
        table(
            [
                "run",
                "posted/s",
                "deliveries",
                "missing",
                "p50 ms",
                "p99 ms",
                "max ms",
                "send p50",
                "send p99",
                "send max",
                "admission p99",
                "server CPU %",
                "load (1 min)",
            ],
            rows,
        )
    )
    worst = max(r["r99"] for r in runs)
    print(f"\nworst run p99 from receipt {worst:.1f} ms (the target is per run, two in a row)")
    print(f"load avg at end: {loadavg()}")


if __name__ == "__main__":
    main()
