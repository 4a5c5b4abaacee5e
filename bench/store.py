"""Storage only: what writing one accepted bulletin costs, without HTTP or crypto, in
three ways, on the exchange's own schema (SQLite WAL, ``synchronous=FULL``):

- ``sync Core, .values() per call``: the same rows and statements from a synchronous
  SQLAlchemy Core connection, as one writer thread would run them (one thread hop per
  transaction), statements built with ``.values(...)`` on each call as exchange/store
  does; one transaction (one fsync) per bulletin, the jti in that same transaction;
- ``prebuilt statements``: the same, statements built once and the values passed as
  execute() parameters (SQLAlchemy's compiled cache then does the work);
- ``group commit of G``: the same, ``G`` bulletins per transaction.

Run: ``python bench/store.py [--bulletins 2000] [--recipients 6] [--group 100]``.
Prints bulletins/s per way (sequential: one writer, as SQLite allows). The exchange now
admits as the last way does (``Database.run_write`` + ``Admissions``, ADR 0006). The
fourth way of earlier runs, "async per statement" (the path before issue 8), is gone with
the async store functions it used (ADR 0014); docs/benchmarks.md keeps its old figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from _machine import loadavg, print_machine
from _servers import init_exchange, workspace
from _stats import table

ENVELOPE = "e" * 17_000  # the size of a sealed 6-recipient bulletin; not parsed here


def rows_for(i: int, recipients: list[str]) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "meta": {
            "bid": str(uuid.uuid4()),
            "iss": "SRC",
            "type": "threat-assessment",
            "priority": "immediate",
            "tlp": "amber",
            "iat": now // 1000,
            "exp": now // 1000 + 86400,
            "supersedes": None,
            "groups": ["grp"],
            "to": [],
        },
        "recipients": recipients,
        "jti": os.urandom(16).hex(),
        "now": now,
        "i": i,
    }


def sync_way(workdir: Path, items: list[dict[str, Any]], group: int, prebuilt: bool) -> float:
    from sqlalchemy import bindparam, create_engine, event, insert, select, update

    from exchange.audit.canonical import canonical_json
    from exchange.audit.merkle import Frontier, leaf_hash
    from exchange.store import schema as s

    engine = create_engine(f"sqlite:///{workdir / 'exchange.db'}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    dumps = json.dumps
    ins_jti = insert(s.jtis)
    sel_bid = select(s.bulletins.c.seq).where(s.bulletins.c.bid == bindparam("bid"))
    ins_bulletin = insert(s.bulletins).returning(s.bulletins.c.seq)
    ins_leaf = insert(s.audit_leaves)
    upd_receipt = (
        update(s.bulletins)
        .where(s.bulletins.c.seq == bindparam("s"))
        .values(log_index=bindparam("log_index"), receipt=bindparam("receipt"))
    )
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for lo in range(0, len(items), group):
            with conn.begin():
                st = conn.execute(select(s.audit_state).where(s.audit_state.c.id == 1)).first()
                size = int(st.size) if st else 0
                frontier = Frontier.from_json(json.loads(st.frontier)) if st else Frontier()
                for it in items[lo : lo + group]:
                    m = it["meta"]
                    row = {
                        "bid": m["bid"],
                        "iss": m["iss"],
                        "client_id": "SRC/ops0",
                        "kid": "kid",
                        "type": m["type"],
                        "priority": m["priority"],
                        "tlp": m["tlp"],
                        "iat": m["iat"],
                        "exp": m["exp"],
                        "supersedes": None,
                        "groups": dumps(m["groups"]),
                        "to": "[]",
                        "recipients": dumps(it["recipients"]),
                        "envelope": ENVELOPE,
                        "envelope_sha256": "x" * 43,
                        "accepted_at": it["now"],
                        "log_index": -1,
                        "receipt": "",
                    }
                    deliveries = [
                        {"party": p, "seq": 0, "bid": m["bid"], "priority": m["priority"]}
                        for p in it["recipients"]
                    ]
                    jti = {"jti": it["jti"], "exp": it["now"] // 1000}
                    if prebuilt:  # statements built once, values passed as parameters
                        conn.execute(ins_jti, jti)
                        conn.execute(sel_bid, {"bid": m["bid"]})
                        seq = conn.execute(ins_bulletin, row).scalar_one()
                    else:  # .values(...) per call, as exchange/store does
                        conn.execute(insert(s.jtis).values(**jti))
                        conn.execute(select(s.bulletins.c.seq).where(s.bulletins.c.bid == m["bid"]))
                        seq = conn.execute(
                            insert(s.bulletins).values(**row).returning(s.bulletins.c.seq)
                        ).scalar_one()
                    for d in deliveries:
                        d["seq"] = seq
                    conn.execute(insert(s.deliveries), deliveries)
                    leaf = canonical_json({"kind": "bulletin", "seq": seq, "bid": m["bid"]})
                    h = leaf_hash(leaf)
                    leaf_row = {"idx": size, "leaf": leaf, "leaf_hash": h, "created_at": it["now"]}
                    receipt = {"s": seq, "log_index": size, "receipt": leaf.decode()}
                    if prebuilt:
                        conn.execute(ins_leaf, leaf_row)
                        conn.execute(upd_receipt, receipt)
                    else:
                        conn.execute(insert(s.audit_leaves).values(**leaf_row))
                        conn.execute(
                            update(s.bulletins)
                            .where(s.bulletins.c.seq == seq)
                            .values(log_index=size, receipt=receipt["receipt"])
                        )
                    frontier.append(h)
                    size += 1
                values = {
                    "size": size,
                    "frontier": json.dumps(frontier.to_json(), separators=(",", ":")),
                    "root_hash": frontier.root(),
                    "updated_at": items[lo]["now"],
                }
                if st is None:
                    conn.execute(insert(s.audit_state).values(id=1, **values))
                else:
                    conn.execute(
                        update(s.audit_state).where(s.audit_state.c.id == 1).values(**values)
                    )
    secs = time.perf_counter() - t0
    engine.dispose()
    return secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bulletins", type=int, default=2000)
    p.add_argument("--recipients", type=int, default=6)
    p.add_argument("--group", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print_machine(
        "bench/store.py",
        {
            "bulletins": f"{args.bulletins} per way, {args.recipients} recipients, "
            f"envelope {len(ENVELOPE):,} bytes",
            "database": "SQLite WAL, synchronous=FULL, a fresh file per way and repeat",
        },
        workdir=Path("/tmp"),
    )
    recipients = [f"R{i:02d}" for i in range(args.recipients)]
    ways: list[tuple[str, int, bool]] = [
        ("sync Core, .values() per call, 1 bulletin per txn", 1, False),
        ("sync Core, prebuilt statements, 1 bulletin per txn", 1, True),
        (f"sync Core, prebuilt statements, group commit of {args.group}", args.group, True),
    ]
    results: dict[str, list[float]] = {w[0]: [] for w in ways}
    loads = []
    for _rep in range(args.repeat):
        for name, group, prebuilt in ways:
            with workspace() as wd:
                asyncio.run(init_exchange(wd))
                items = [rows_for(i, recipients) for i in range(args.bulletins)]
                loads.append(loadavg().split()[0])
                secs = sync_way(wd, items, group, prebuilt)
                results[name].append(args.bulletins / secs)
                print(f"{name}: {args.bulletins / secs:,.0f} bulletins/s (load {loads[-1]})")
    base = sorted(results[ways[0][0]])[len(results[ways[0][0]]) // 2]
    rows = []
    for name, _g, _p in ways:
        v = sorted(results[name])[len(results[name]) // 2]
        rows.append([name, v, f"x{v / base:.1f}"])
    print("\n## Results (median over repeats)\n")
    print(table(["way", "bulletins/s", "vs .values() per call"], rows))
    print(f"\nload (1 min) per run: {' '.join(loads)}; at end: {loadavg()}")


if __name__ == "__main__":
    main()
