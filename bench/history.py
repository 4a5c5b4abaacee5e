"""A realistic year of exchange traffic, written straight into the store, so that reports
are benchmarked and shown on data that looks real (issue 14).

The six Central Asia/Caucasus States in ``cac-avsec`` (Kazakhstan chairs) post bulletins
to the group (and now and then one TLP:RED bulletin to a single State); each State acks
in its own way:

- KZ, UZ, GE keep a live stream open and ack within minutes;
- AZ pulls its inbox and gets faster over the year (the trend shows it);
- KG pulls its inbox and is slow: often past the deadline;
- TJ answers normally until two months before the end, then goes quiet (no pull, no
  ack: its deliveries pile up overdue).

Priority shapes both the mix (half routine, 3 % flash) and the speed (flash is handled
ten times faster than ``priority``). Rows are inserted in batches through
``exchange.store.history.bulk_history`` (three executemany statements per batch): no
HTTP, no crypto, no audit log. For benchmarks and examples only.

Run on an initialised exchange (``exchange init --db URL``) or with ``--migrate``:
``python bench/history.py --db sqlite:///h.db --migrate --deliveries 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert

from exchange.config import ACK_DEADLINES
from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey
from exchange.store import history
from exchange.store import schema as s
from exchange.store.db import Database
from exchange.store.migrate import upgrade

__all__ = ["STATES", "Profile", "generate", "main"]

DAY = 86_400_000
MIN = 60_000
GROUP = "cac-avsec"
NAMES = {
    "AZ": "Azerbaijan State Civil Aviation Agency",
    "GE": "Georgian Civil Aviation Agency",
    "KG": "Civil Aviation Agency of Kyrgyzstan",
    "KZ": "Civil Aviation Committee of Kazakhstan",
    "TJ": "Civil Aviation Agency of Tajikistan",
    "UZ": "Civil Aviation Agency of Uzbekistan",
}


@dataclass(frozen=True)
class Profile:
    """How one State behaves: share of the bulletins it sends, whether it streams, how
    long its first ack takes (median minutes at ``priority``, at the start and at the
    end of the year), how often it acks, reads and acts."""

    send_share: float
    streams: bool
    ack_minutes: tuple[float, float]
    p_ack: float
    p_read: float
    p_action: float
    quiet_days: int = 0  # silent for this many days before the end


STATES: dict[str, Profile] = {
    "KZ": Profile(0.30, True, (12, 10), 0.98, 0.92, 0.55),
    "UZ": Profile(0.20, True, (20, 18), 0.96, 0.88, 0.45),
    "GE": Profile(0.15, True, (15, 15), 0.97, 0.90, 0.50),
    "AZ": Profile(0.15, False, (240, 25), 0.90, 0.80, 0.35),
    "KG": Profile(0.10, False, (300, 280), 0.82, 0.60, 0.20),
    "TJ": Profile(0.10, False, (60, 60), 0.92, 0.75, 0.30, quiet_days=62),
}
PRIORITY_MIX = (("flash", 0.03), ("immediate", 0.15), ("priority", 0.32), ("routine", 0.50))
#: how much faster (smaller) an ack is at each priority than at ``priority``
SPEED = {"flash": 0.08, "immediate": 0.3, "priority": 1.0, "routine": 2.5}
TYPE_MIX = (
    ("threat-assessment", 0.30),
    ("security-measure", 0.25),
    ("advisory", 0.30),
    ("request", 0.10),
    ("revocation", 0.05),
)
TLP_MIX = (("clear", 0.05), ("green", 0.25), ("amber", 0.55), ("amber+strict", 0.15))
RED_SHARE = 0.04  # bulletins to one named State only (TLP:RED)


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    for value, share in mix:
        x -= share
        if x < 0:
            return value
    return mix[-1][0]


def _directory(conn: Connection, now: int) -> None:
    """Parties, clients, keys, the group and its members, and when each was last seen."""
    conn.execute(
        insert(s.parties),
        [
            {"id": p, "name": n, "kind": "state", "created_at": now - 420 * DAY}
            for p, n in NAMES.items()
        ],
    )
    conn.execute(
        insert(s.groups),
        [
            {
                "id": GROUP,
                "name": "Central Asia/Caucasus AVSEC Coordinating Group",
                "created_at": now - 420 * DAY,
            }
        ],
    )
    conn.execute(
        insert(s.memberships),
        [
            {"group_id": GROUP, "party": p, "role": "chair" if p == "KZ" else "member"}
            for p in NAMES
        ],
    )
    clients, keys, seen = [], [], []
    # key ages in days: KG's key is past a year and was never rotated; GE's is near it
    key_ages = {
        "KZ": (400, 90),
        "UZ": (380, 150),
        "GE": (350,),
        "AZ": (200,),
        "KG": (410,),
        "TJ": (300,),
    }
    for p, prof in STATES.items():
        for name, age in (("ops", 400), ("desk2", 30)):
            signer = Ed25519Signer.generate()
            clients.append(
                {
                    "id": f"{p}/{name}",
                    "party": p,
                    "kid": signer.kid,
                    "jwk": json.dumps(signer.public.to_jwk()),
                    "roles": "poster,reader",
                    "status": "active",
                    "created_at": now - (380 if (p, name) == ("KZ", "ops") else age) * DAY,
                }
            )
        ages = key_ages[p]
        for i, age in enumerate(ages):
            pub = EncryptionPrivateKey.generate("x25519").public
            keys.append(
                {
                    "kid": pub.kid,
                    "party": p,
                    "alg": pub.alg,
                    "jwk": json.dumps(pub.to_jwk()),
                    "status": "active" if i == len(ages) - 1 else "retired",
                    "created_at": now - age * DAY,
                }
            )
        last = now - (
            prof.quiet_days * DAY if prof.quiet_days else (3 * MIN if prof.streams else 25 * MIN)
        )
        seen.append(
            {
                "client_id": f"{p}/ops",
                "party": p,
                "request_at": last,
                "inbox_at": None if prof.streams else last,
                "stream_at": last if prof.streams else None,
            }
        )
    conn.execute(insert(s.clients), clients)
    conn.execute(insert(s.enc_keys), keys)
    conn.execute(insert(s.last_seen), seen)


def _lognormal(rng: random.Random, median_ms: float, sigma: float = 0.9) -> int:
    return int(median_ms * math.exp(rng.gauss(0.0, sigma)))


def _batch(
    rng: random.Random, first_seq: int, times: list[int], start: int, end: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    senders = tuple((p, prof.send_share) for p, prof in STATES.items())
    bulletins, deliveries, acks = [], [], []
    for i, acc in enumerate(times):
        seq = first_seq + i
        bid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        iss = _pick(rng, senders)
        prio = _pick(rng, PRIORITY_MIX)
        if rng.random() < RED_SHARE:
            tlp, groups = "red", []
            recips = [rng.choice([p for p in STATES if p != iss])]
            to = list(recips)
        else:
            tlp, groups, to = _pick(rng, TLP_MIX), [GROUP], []
            recips = [p for p in STATES if p != iss]
        bulletins.append(
            history.history_bulletin(
                seq,
                bid,
                iss,
                type_=_pick(rng, TYPE_MIX),
                priority=prio,
                tlp=tlp,
                groups=groups,
                to=to,
                recipients=recips,
                accepted_at=acc,
            )
        )
        progress = (acc - start) / max(1, end - start)
        for party in recips:
            prof = STATES[party]
            quiet = prof.quiet_days and acc > end - prof.quiet_days * DAY
            delivered = None
            if not quiet:
                delay = _lognormal(rng, 1500, 0.6) if prof.streams else rng.randint(0, 30 * MIN)
                delivered = acc + delay if acc + delay < end else None
            deliveries.append(
                {
                    "party": party,
                    "seq": seq,
                    "bid": bid,
                    "priority": prio,
                    "deadline": acc + ACK_DEADLINES[prio] * 1000,
                    "delivered_at": delivered,
                    "escalated_at": None,
                }
            )
            if delivered is None or rng.random() > prof.p_ack:
                continue
            lo, hi = prof.ack_minutes
            median = (lo + (hi - lo) * progress) * MIN * SPEED[prio]
            t = delivered + _lognormal(rng, median)
            steps = ["received"]
            if rng.random() < prof.p_read:
                steps.append("read")
                if rng.random() < prof.p_action:
                    steps.append("actioned")
            for status in steps:
                if t >= end:
                    break
                acks.append(
                    {
                        "bid": bid,
                        "party": party,
                        "status": status,
                        "client_id": f"{party}/ops",
                        "iat": t // 1000,
                        "received_at": t,
                        "jws": "",
                        "log_index": 0,
                    }
                )
                t += _lognormal(rng, median * 2)
    return bulletins, deliveries, acks


async def generate(
    db: Database,
    *,
    deliveries: int,
    days: int = 365,
    seed: int = 1,
    end: int | None = None,
    batch: int = 5_000,
) -> dict[str, int]:
    """Write the directory and about ``deliveries`` deliveries over ``days`` days up to
    ``end`` (ms; default now). Returns the row counts."""
    rng = random.Random(seed)
    end = end if end is not None else int(time.time() * 1000)
    start = end - days * DAY
    per_bulletin = 5 * (1 - RED_SHARE) + RED_SHARE
    n = max(1, round(deliveries / per_bulletin))
    times = sorted(rng.randint(start, end - 1) for _ in range(n))
    await db.run_write(lambda c: _directory(c, end))
    counts = {"bulletins": 0, "deliveries": 0, "acks": 0}
    first = 1_000_000_000  # far from the seqs of bulletins posted through the API
    for i in range(0, n, batch):
        b, d, a = _batch(rng, first + i, times[i : i + batch], start, end)
        await db.run_write(lambda c, b=b, d=d, a=a: history.bulk_history(c, b, d, a))
        counts["bulletins"] += len(b)
        counts["deliveries"] += len(d)
        counts["acks"] += len(a)
    return counts


async def _main(args: argparse.Namespace) -> None:
    db = Database(args.db)
    try:
        if args.migrate:
            await upgrade(db)
        t0 = time.perf_counter()
        counts = await generate(db, deliveries=args.deliveries, days=args.days, seed=args.seed)
        took = time.perf_counter() - t0
    finally:
        await db.close()
    rate = counts["deliveries"] / took if took else 0
    print(
        f"{counts['bulletins']:,} bulletins, {counts['deliveries']:,} deliveries, "
        f"{counts['acks']:,} acks in {took:.1f} s ({rate:,.0f} deliveries/s)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--db", required=True, help="database URL (an initialised exchange)")
    p.add_argument("--migrate", action="store_true", help="create the schema first")
    p.add_argument("--deliveries", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=1)
    asyncio.run(_main(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
