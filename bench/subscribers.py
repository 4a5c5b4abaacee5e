"""Many idle subscribers: resident memory of one server process holding ``--connections``
idle WebSocket streams, and how long one bulletin takes to reach all of them.

Run: ``python bench/subscribers.py [--connections 10000] [--parties 100] [--procs 4]
[--bulletins 3] [--profile DIR]``.

``--parties`` receiving States (hybrid keys) and one sender are in one group; the
connections are spread evenly over the receivers (``--connections / --parties`` streams
per State, each with its own token), held by ``--procs`` client processes (the file
descriptor limit is raised with ``resource.setrlimit`` in the server and the clients).
Once all are connected and idle, the sender posts one bulletin to the group, then waits
until every stream has it (or 60 s), ``--bulletins`` times.

Prints the server's resident memory (VmRSS) before and after the connections and after
the deliveries, its peak (VmHWM), the connect rate, and per bulletin the latency to the
streams: p50/p99/max from the poster's send, and from the receipt's ``accepted_at``.
Target: within 1 GiB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from _bulletins import bulletin, seal_many
from _machine import loadavg, print_machine
from _parties import Party, enrol
from _posting import post_at_rate
from _procs import CpuMeter, proc_rss_mib, raise_nofile
from _pyspy import maybe_profile
from _servers import init_exchange, start_server, workspace
from _stats import median, pct, table
from _wsclient import Subscribers


def hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--connections", type=int, default=10_000)
    p.add_argument(
        "--parties",
        type=int,
        default=20,
        help="receiving States (the envelope grows with them: ~2.2 KiB per hybrid recipient)",
    )
    p.add_argument("--procs", type=int, default=4, help="client processes")
    p.add_argument("--bulletins", type=int, default=3, help="bulletins posted, one at a time")
    p.add_argument("--parallel", type=int, default=32, help="connects in flight per process")
    p.add_argument(
        "--connect-seconds",
        type=float,
        default=240,
        help="stop connecting after this long and measure with the streams open by then",
    )
    p.add_argument(
        "--heartbeat",
        type=float,
        help="the server's Limits.ws_heartbeat in seconds (default: the server's own, 20)",
    )
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=25.0,
        help="measure the server's CPU with every stream idle for this long",
    )
    p.add_argument("--profile", metavar="DIR", help="py-spy the server into DIR")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    raise_nofile(args.connections + 4096)

    settings = {
        "world": f"1 sender + {args.parties} receiving States in one group (hybrid keys)",
        "streams": f"{args.connections} idle WebSocket streams, "
        f"{args.connections // args.parties} per receiving State, in {args.procs} client "
        "processes",
        "load": f"{args.bulletins} bulletins to the group, one at a time",
        "server": "bench/_server.py (exchange.node.serve), SQLite WAL synchronous=FULL, "
        f"stream heartbeat {args.heartbeat or 'default (20)'} s",
        "connecting": f"{args.parallel} connects in flight per client process, at most "
        f"{args.connect_seconds:g} s",
    }
    print_machine("bench/subscribers.py", settings, workdir=Path("/tmp"))

    sender = Party.make("SRC")
    receivers = [Party.make(f"R{i:03d}") for i in range(args.parties)]
    parties = [sender, *receivers]
    members = {"SRC": "chair"} | {r.id: "member" for r in receivers}
    now = int(time.time())
    jobs = [
        (bulletin("SRC", ["all"], now=now, n=i), sender.clients[0][0], [r.id for r in receivers])
        for i in range(args.bulletins)
    ]
    envelopes = seal_many(parties, jobs)
    print(f"sealed {len(jobs)} bulletins, {len(envelopes[0]):,} bytes each", flush=True)

    rows = []
    with workspace(args.keep) as wd:
        asyncio.run(init_exchange(wd))
        extra = ["--ws-heartbeat", str(args.heartbeat)] if args.heartbeat else []
        server = start_server(wd, extra=extra)
        clients: list[Subscribers] = []
        try:
            secs = asyncio.run(enrol(wd, server.url, parties, {"all": members}))
            time.sleep(1.0)
            rss0 = proc_rss_mib(server.pid)
            print(f"server pid {server.pid}; enrolled in {secs:.1f} s; RSS {rss0:.0f} MiB")

            entries = [
                (r.id, r.clients[0][0], r.clients[0][1].to_private_jwk())
                for r in (receivers[i % len(receivers)] for i in range(args.connections))
            ]
            t0 = time.perf_counter()
            load0 = loadavg()
            share = -(-len(entries) // args.procs)
            for k in range(args.procs):
                part = entries[k * share : (k + 1) * share]
                if part:
                    clients.append(
                        Subscribers(
                            server.url,
                            part,
                            parallel=args.parallel,
                            connect_seconds=args.connect_seconds,
                        )
                    )
            opened = 0
            for c in clients:
                n, _s, errors, nfailed = c.wait_ready()
                opened += n
                if nfailed:
                    print(f"  a client process failed {nfailed} connects: {errors}")
            connect_s = time.perf_counter() - t0
            idle = CpuMeter({"server": server.pid}).start()
            time.sleep(args.idle_seconds)  # every stream idle: heartbeats only
            idle.stop()
            idle_cpu = idle.result.get("server cpu %", float("nan"))
            rss1 = proc_rss_mib(server.pid)
            print(
                f"{opened} streams open in {connect_s:.1f} s ({opened / connect_s:.0f}/s, load "
                f"{load0}); server RSS {rss1:.0f} MiB, "
                f"{(rss1 - rss0) * 1024 / max(1, opened):.1f} KiB per stream; server CPU "
                f"{idle_cpu:.0f} % of a core while all were idle for {args.idle_seconds:g} s",
                flush=True,
            )

            signer = sender.clients[0]
            for b, env in enumerate(envelopes):
                base = sum(c.count() for c in clients)
                load_b = loadavg()
                meter = CpuMeter({"server": server.pid}).start()
                with maybe_profile(args.profile, server.pid, f"subscribers-b{b + 1}"):
                    res = asyncio.run(post_at_rate(server.url, [(signer[0], signer[1], env)], 1))
                    deadline = time.monotonic() + 60
                    got = 0
                    while time.monotonic() < deadline:
                        got = sum(c.count() for c in clients) - base
                        if got >= opened:
                            break
                        time.sleep(0.05)
                meter.stop()
                r = res[0]
                arrivals = []
                n_closed = 0
                codes: dict[str, int] = {}
                for c in clients:
                    records, closed = c.records()
                    n_closed += len(closed)
                    for _i, code in closed:
                        codes[code] = codes.get(code, 0) + 1
                    arrivals += [t for seq, _i, t in records if seq == r.get("seq")]
                send = [(t - r["t_send"]) * 1000 for t in arrivals]
                rec = [(t - r["accepted_s"]) * 1000 for t in arrivals] if "accepted_s" in r else []
                row = {
                    "n": len(arrivals),
                    "admission": (r.get("t_resp", float("nan")) - r["t_send"]) * 1000,
                    "s50": pct(send, 50),
                    "s99": pct(send, 99),
                    "smax": max(send, default=float("nan")),
                    "r50": pct(rec, 50),
                    "r99": pct(rec, 99),
                    "rss": proc_rss_mib(server.pid),
                    "cpu": meter.result.get("server cpu %", float("nan")),
                    "load": load_b,
                }
                rows.append(row)
                print(
                    f"[bulletin {b + 1}] status {r.get('status')}, reached {row['n']}/{opened} "
                    f"streams; from send p50 {row['s50']:.0f} p99 {row['s99']:.0f} max "
                    f"{row['smax']:.0f} ms (admission {row['admission']:.0f} ms); from receipt "
                    f"p50 {row['r50']:.0f} p99 {row['r99']:.0f} ms; RSS {row['rss']:.0f} MiB; "
                    f"{meter.describe()}; load {load_b}; "
                    f"{n_closed} streams closed so far {codes or ''}; "
                    f"{len(env) * opened / 2**20:,.0f} MiB of frames to push",
                    flush=True,
                )
                time.sleep(2.0)
            rss2 = proc_rss_mib(server.pid)
            peak = hwm_mib(server.pid)
        finally:
            for c in clients:
                c.stop()
            server.stop()

    print("\n## Results (target: within 1 GiB RSS)\n")
    print(
        table(
            [
                "streams",
                "RSS before MiB",
                "RSS idle MiB",
                "KiB/stream",
                "RSS after MiB",
                "peak MiB",
                "connects/s",
                "idle CPU %",
                "reached",
                "p50 ms",
                "p99 ms",
                "max ms",
                "load",
            ],
            [
                [
                    opened,
                    rss0,
                    rss1,
                    (rss1 - rss0) * 1024 / max(1, opened),
                    rss2,
                    peak,
                    opened / connect_s,
                    idle_cpu,
                    median(r["n"] for r in rows),
                    median(r["s50"] for r in rows),
                    median(r["s99"] for r in rows),
                    median(r["smax"] for r in rows),
                    load0,
                ]
            ],
        )
    )
    print("(latencies: from the poster's send, median over the bulletins)")
    print(f"\nload avg at end: {loadavg()}")


if __name__ == "__main__":
    main()
