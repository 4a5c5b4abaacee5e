"""How long a report takes on a year of traffic (issue 14: 1,000,000 deliveries, a
report under 2 s on SQLite and on PostgreSQL).

Generates the history of ``bench/history.py`` into a fresh database (SQLite file in a
temporary folder, or a PostgreSQL URL whose database it empties first with
``--fresh``), then times the service call behind ``GET /v1/reports`` for the three
scopes (the whole exchange as the operator, the group as its chair, one State), a year
each, ``--repeat`` times, and prints the best and the median.

Run: ``python bench/reports.py [--deliveries 1000000] [--db URL] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _pg import fresh_pg
from history import generate

from exchange.config import ServerConfig
from exchange.crypto.keys import Ed25519Signer
from exchange.service.caller import Caller
from exchange.service.core import Exchange
from exchange.store import reports as rstore
from exchange.store.db import Database
from exchange.store.migrate import upgrade

ADMIN = Caller("OPERATOR/admin", "OPERATOR", frozenset({"admin"}), "bench")
CHAIR = Caller("KZ/ops", "KZ", frozenset({"poster", "reader"}), "bench")
STATE = Caller("KG/ops", "KG", frozenset({"reader"}), "bench")
CASES = (
    ("whole exchange (operator)", ADMIN, {}),
    ("group cac-avsec (chair)", CHAIR, {"group": "cac-avsec"}),
    ("one State, KG (itself)", STATE, {"party": "KG"}),
)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'history.db'}"
        if args.db and args.fresh:
            await fresh_pg(url)
        db = Database(url)
        await upgrade(db)
        t0 = time.perf_counter()
        counts = await generate(db, deliveries=args.deliveries, days=365, seed=args.seed)
        print(
            f"history: {counts['bulletins']:,} bulletins, {counts['deliveries']:,} deliveries,"
            f" {counts['acks']:,} acks, written in {time.perf_counter() - t0:.1f} s"
        )
        if not db.is_sqlite:  # fresh statistics, as autovacuum would gather them
            await db.run_write(lambda c: c.exec_driver_sql("ANALYZE"))
        ex = Exchange(ServerConfig(db_url=url), db, Ed25519Signer.generate())
        if args.rows_only:  # the delivery-row path alone, for comparison (ADR 0011)
            rstore.EXACT_BELOW = 1 << 62
        else:  # what the minute task does on a server, all at once (ADR 0018)
            t0 = time.perf_counter()
            await ex.reports.refresh_summaries(None)
            print(f"summaries: built in {time.perf_counter() - t0:.1f} s (once)")
        since = (datetime.now(UTC).date() - timedelta(days=365)).isoformat()
        q_year = {"from": since, "bucket": "month"}
        try:
            for name, caller, scope in CASES:
                took = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    rep = await ex.reports.report(caller, {**scope, **q_year})
                    took.append(time.perf_counter() - t)
                n = sum(r["deliveries"] for r in rep["recipients"] if r["priority"] == "all")
                print(
                    f"{name:28} {n:>9,} deliveries  best {min(took):6.2f} s"
                    f"  median {statistics.median(took):6.2f} s"
                )
        finally:
            await db.close()


def main() -> int:
    p = argparse.ArgumentParser(description="time reports on a generated year of traffic")
    p.add_argument("--deliveries", type=int, default=1_000_000)
    p.add_argument("--db", help="a PostgreSQL URL (default: a temporary SQLite file)")
    p.add_argument("--fresh", action="store_true", help="empty the PostgreSQL database first")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows-only", action="store_true", help="no summaries: read every delivery row")
    asyncio.run(run(p.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
