"""The exchange server as the benchmarks run it: ``exchange.node.serve`` (what
``exchange serve`` runs: the request log at INFO, every background task) with two bench
settings: a raised file-descriptor limit, and a per-client rate limit raised so that it
does not shape the load (``--rate``).

Run by bench/_servers.py; by hand:
``python bench/_server.py --db sqlite+aiosqlite:///x.db --keys keys --port 8080``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
from dataclasses import replace
from pathlib import Path

from exchange.config import Limits, ServerConfig
from exchange.node import serve


def raise_nofile() -> None:
    # imports none of the bench helpers (bench/_*.py) so that the server's memory is its own
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:  # root may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _count_round_trips() -> None:
    """BENCH_COUNT=1: count SQL statements and aiosqlite thread round trips; the totals
    go to stderr (the server log) at exit, for per-request figures."""
    import atexit
    import json
    import signal
    import sys
    from collections import Counter

    import aiosqlite.core
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter[str] = Counter()
    original = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["aiosqlite round trips"] += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]

    @event.listens_for(Engine, "before_cursor_execute")
    def _stmt(_c, _cur, statement, _p, _ctx, _many):  # type: ignore[no-untyped-def]
        counts["SQL statements"] += 1
        counts["SQL " + statement.split(None, 1)[0].upper()] += 1

    @event.listens_for(Engine, "commit")
    def _commit(_c):  # type: ignore[no-untyped-def]
        counts["commits"] += 1

    def dump(*_a: object) -> None:
        print(f"BENCH_COUNT {json.dumps(dict(counts))}", file=sys.stderr, flush=True)

    atexit.register(dump)
    signal.signal(signal.SIGUSR1, dump)  # a snapshot on demand


def _free_port() -> int:
    """Workers bind one fixed port together (SO_REUSEPORT), so pick it here."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--exchange-id", default="bench-exchange")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--rate", type=float, default=1e6, help="per-client requests/s")
    p.add_argument("--ws-heartbeat", type=float, help="Limits.ws_heartbeat (default 20 s)")
    p.add_argument("--workers", type=int, default=1, help="exchange serve --workers")
    args = p.parse_args()
    raise_nofile()
    limits = Limits(rate_per_second=args.rate, rate_burst=max(200, int(args.rate)))
    if args.ws_heartbeat:
        limits = replace(limits, ws_heartbeat=args.ws_heartbeat)
    cfg = ServerConfig(
        db_url=args.db,
        keys_dir=Path(args.keys),
        exchange_id=args.exchange_id,
        host="127.0.0.1",
        port=args.port or (_free_port() if args.workers > 1 else 0),
        limits=limits,
        workers=args.workers,
    )
    if os.environ.get("BENCH_COUNT"):
        _count_round_trips()
    threads_out = os.environ.get("BENCH_YAPPI")  # CPU time per function, every thread
    if threads_out:
        import yappi  # pip install yappi (a bench tool, like py-spy)

        yappi.set_clock_type("cpu")
        yappi.start()
        try:
            asyncio.run(serve(cfg))
        finally:
            yappi.stop()
            with open(threads_out, "w") as f:
                for th in yappi.get_thread_stats():
                    f.write(f"== thread {th.name} {th.id}: {th.ttot:.3f} s CPU\n")
                    stats = yappi.get_func_stats(filter={"ctx_id": th.id})
                    stats.sort("tsub")
                    for s in list(stats)[:40]:
                        f.write(f"  self {s.tsub:8.3f}  incl {s.ttot:8.3f}  {s.ncall:>8}  ")
                        f.write(f"{s.name} ({s.module.rsplit('/', 1)[-1]}:{s.lineno})\n")
        return
    out = os.environ.get("BENCH_CPROFILE")  # deterministic profile of the loop thread
    if not out:
        asyncio.run(serve(cfg))
        return
    import cProfile

    prof = cProfile.Profile()
    try:
        prof.runcall(asyncio.run, serve(cfg))
    finally:
        prof.dump_stats(out)


if __name__ == "__main__":
    main()
