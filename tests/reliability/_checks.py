"""What must hold after any crash: every receipted bulletin is stored, in each
recipient's inbox and in the audit log at its receipt's index; the log verifies; and the
database holds no half-written admission (PROTOCOL §5, §7, §8; N5.5)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp
from reliability._world import World
from sqlalchemy import Connection, text

from exchange.audit.canonical import canonical_json
from exchange.audit.privacy import open_leaf
from exchange.client.audit import LogMonitor, TreeHead
from exchange.client.logcheck import verify_log
from exchange.crypto import b64u_decode
from exchange.store.db import Database

__all__ = ["Receipted", "check_consistent", "check_database"]


@dataclass(frozen=True)
class Receipted:
    """What a verified receipt promised."""

    bid: str
    seq: int
    iss: str
    recipients: tuple[str, ...]
    envelope_sha256: str
    log_index: int


async def check_database(db_url: str) -> dict[str, int]:
    """No bulletin without all its deliveries, no delivery without its bulletin, one
    audit leaf per bulletin at its ``log_index``, and a log state that matches its
    leaves. Read straight from the database, not through the API."""
    db = Database(db_url)
    try:

        def read(conn: Connection) -> tuple[Any, Any, Any, Any, Any]:
            return (
                conn.execute(text("SELECT seq, bid, recipients, log_index FROM bulletins")).all(),
                conn.execute(text("SELECT party, seq, bid FROM deliveries")).all(),
                conn.execute(text("SELECT idx, leaf FROM audit_leaves")).all(),
                # issue 17: a committed leaf is read through its opening
                conn.execute(text("SELECT idx, opening FROM audit_openings")).all(),
                conn.execute(text("SELECT size FROM audit_state WHERE id = 1")).scalar(),
            )

        bulletins, deliveries, leaves, openings, size = await db.run_read(read)
    finally:
        await db.close()
    by_seq: dict[int, set[str]] = defaultdict(set)
    for party, seq, _bid in deliveries:
        by_seq[int(seq)].add(party)
    leaf_at = {int(i): json.loads(bytes(leaf)) for i, leaf in leaves}
    for i, opening in openings:
        leaf_at[int(i)] = open_leaf(canonical_json(leaf_at[int(i)]), bytes(opening))
    assert sorted(leaf_at) == list(range(len(leaf_at))), "audit leaves are not 0..n-1"
    assert size == len(leaf_at), f"audit_state.size {size} but {len(leaf_at)} leaves"
    seqs = {int(r.seq) for r in bulletins}
    orphans = set(by_seq) - seqs
    assert not orphans, f"deliveries without their bulletin: seqs {sorted(orphans)[:10]}"
    delivery_bid = {int(seq): bid for _party, seq, bid in deliveries}
    for seq, bid, recipients, log_index in bulletins:
        want = set(json.loads(recipients))
        assert by_seq.get(int(seq), set()) == want, f"{bid}: deliveries != recipients"
        assert delivery_bid[int(seq)] == bid
        leaf = leaf_at.get(int(log_index))
        assert leaf is not None, f"{bid}: no audit leaf at {log_index}"
        assert leaf["kind"] == "bulletin" and leaf["bid"] == bid and leaf["seq"] == seq
    logged = {leaf["bid"] for leaf in leaf_at.values() if leaf["kind"] == "bulletin"}
    stored = {r.bid for r in bulletins}
    assert logged == stored, f"logged but not stored: {sorted(logged - stored)[:5]}"
    return {"bulletins": len(bulletins), "deliveries": len(deliveries), "leaves": len(leaf_at)}


async def check_consistent(
    world: World, receipted: dict[str, Receipted], saved: TreeHead | None
) -> TreeHead:
    """Every receipted bulletin through the API: its audit leaf is what the receipt
    says, it is in every recipient's inbox once (in seq order), and the whole log
    verifies against a fresh signed tree head, consistent with the one before."""
    mon = LogMonitor(world.admin)
    report = await verify_log(mon, saved)
    assert report.ok, (report.first_bad, report.reason)
    _, data = await world.admin.request(
        "GET", "/v1/audit/entries", params={"start": 0, "end": report.head.size}
    )
    entries = data["entries"]
    while len(entries) < report.head.size:
        _, more = await world.admin.request(
            "GET",
            "/v1/audit/entries",
            params={"start": len(entries), "end": report.head.size},
        )
        entries.extend(more["entries"])
    # The operator opens committed leaves, one request each: a client reading a whole
    # log waits out the rate limit's Retry-After as the SDK allows (issue 19).
    world.admin.retry_wait = max(world.admin.retry_wait, 120.0)
    leaves: dict[int, dict[str, Any]] = {
        e["index"]: await mon.read_entry(b64u_decode(e["leaf"]), e["index"]) for e in entries
    }
    for r in receipted.values():
        leaf = leaves.get(r.log_index)
        assert leaf is not None, f"{r.bid}: log_index {r.log_index} beyond the log"
        assert leaf["kind"] == "bulletin", leaf
        assert (leaf["bid"], leaf["seq"], leaf["envelope_sha256"]) == (
            r.bid,
            r.seq,
            r.envelope_sha256,
        )
        assert tuple(leaf["recipients"]) == r.recipients
    async with aiohttp.ClientSession() as s:
        for pid in world.parties:
            items = await world.inbox(s, pid)
            seqs = [i["seq"] for i in items]
            assert seqs == sorted(set(seqs)), f"{pid}: inbox not in strict seq order"
            have = {i["bid"]: i["seq"] for i in items}
            for r in receipted.values():
                if pid in r.recipients:
                    assert have.get(r.bid) == r.seq, f"{pid}: {r.bid} missing from the inbox"
    return report.head
