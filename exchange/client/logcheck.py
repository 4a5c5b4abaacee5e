"""A full audit of an exchange's log: recompute the tree from every entry and compare it
with the signed tree head (``exchange audit verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.audit import merkle
from exchange.client.audit import LogMonitor, TreeHead, proof_hashes
from exchange.crypto import b64u_decode

__all__ = ["LogReport", "verify_log"]

PAGE = 1000


@dataclass(frozen=True)
class LogReport:
    head: TreeHead
    entries: int
    first_bad: int | None  # the first index not consistent with the signed head
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad is None and self.reason is None


async def _all_leaves(mon: LogMonitor, size: int) -> list[bytes]:
    leaves: list[bytes] = []
    while len(leaves) < size:
        start = len(leaves)
        _, data = await mon.client.request(
            "GET", "/v1/audit/entries", params={"start": start, "end": min(size, start + PAGE)}
        )
        page = data.get("entries") or []
        if not page:
            break
        for e in page:
            if e.get("index") != len(leaves):
                return leaves
            leaves.append(b64u_decode(e["leaf"]))
    return leaves


async def _prefix_ok(mon: LogMonitor, hashes: list[bytes], m: int, head: TreeHead) -> bool:
    """Is the prefix of ``m`` recomputed leaves consistent with the signed head?"""
    if m == head.size:
        return merkle.root(hashes[:m]) == head.root
    _, proof = await mon.client.request(
        "GET", "/v1/audit/consistency", params={"first": m, "second": head.size}
    )
    return merkle.verify_consistency(
        m, head.size, merkle.root(hashes[:m]), head.root, proof_hashes(proof.get("path", []))
    )


async def verify_log(mon: LogMonitor, saved: TreeHead | None = None) -> LogReport:
    """Recompute the whole tree; on a mismatch, binary-search the first entry whose
    prefix no longer matches the signed head (O(log n) consistency proofs)."""
    _, data = await mon.client.request("GET", "/v1/audit/sth")
    head = await mon.parse_sth(data["sth"])
    if saved is not None:
        await mon.check_consistent(saved, head)
    leaves = await _all_leaves(mon, head.size)
    if len(leaves) < head.size:
        return LogReport(
            head, len(leaves), len(leaves), "the log serves fewer entries than its head"
        )
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    if saved is not None and saved.size and merkle.root(hashes[: saved.size]) != saved.root:
        reason = "the entries no longer match the saved tree head"
    elif merkle.root(hashes) == head.root:
        return LogReport(head, len(leaves), None, None)
    else:
        reason = "the entries do not match the signed tree head"
    lo, hi = 0, head.size  # prefix lo is good (empty), prefix hi is bad
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await _prefix_ok(mon, hashes, mid, head):
            lo = mid
        else:
            hi = mid
    return LogReport(head, len(leaves), hi - 1, reason)
