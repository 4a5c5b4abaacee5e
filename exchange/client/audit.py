"""Trusting the exchange without trusting its operator (PROTOCOL §8).

``LogMonitor`` keeps the last signed tree head it accepted from a server and accepts a
newer one only with a consistency proof from it; it checks that a receipt's entry, and
the directory a client seals with, are included in the log under that head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange.audit import merkle
from exchange.audit.digest import directory_digest
from exchange.audit.privacy import is_committed, open_leaf
from exchange.client import server_key as server_keys
from exchange.crypto import b64u_decode, b64u_encode, jws
from exchange.errors import ExchangeError, LogInconsistent, NotFound

if TYPE_CHECKING:
    from exchange.client.directory import Directory
    from exchange.client.receipt import Receipt
    from exchange.client.transport import Transport as ExchangeClient

__all__ = ["LogMonitor", "TreeHead", "directory_digest", "proof_hashes"]


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    timestamp: int
    token: str


def proof_hashes(path: Sequence[Any]) -> list[bytes]:
    try:
        return [b64u_decode(str(h)) for h in path]
    except ExchangeError as exc:
        raise LogInconsistent("proof holds a malformed hash") from exc


class LogMonitor:
    """One client's view of one exchange's log. ``state_file`` (optional) keeps the last
    accepted tree head across runs, so a log rewritten between runs is caught too."""

    def __init__(self, client: ExchangeClient, state_file: Path | None = None) -> None:
        self.client = client
        self.state_file = state_file
        self.head: TreeHead | None = None
        #: entries [0, _scanned) were read for directory versions; _newest the highest
        self._scanned = 0
        self._newest = 0
        if state_file is not None and state_file.exists():
            self._saved = state_file.read_text(encoding="utf-8").strip()
        else:
            self._saved = ""

    async def parse_sth(self, token: str) -> TreeHead:
        key = await self.client.server_key()
        at = server_keys.claimed_time(token, "timestamp")  # issue 18: a head signed earlier
        v = jws.verify_compact(
            token, lambda k: server_keys.server_key_at(self.client, key, k, at), jws.TYP_STH
        )
        try:
            p = json.loads(v.payload)
            size, root, ts = int(p["tree_size"]), b64u_decode(p["root_hash"]), int(p["timestamp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LogInconsistent("tree head payload is malformed") from exc
        if size < 0 or len(root) != 32:
            raise LogInconsistent("tree head payload is malformed")
        return TreeHead(size, root, ts, token)

    async def update(self) -> TreeHead:
        """Fetch the newest head; accept it only if it extends the last one."""
        if self.head is None and self._saved:
            self.head = await self.parse_sth(self._saved)
        _, data = await self.client.request("GET", "/v1/audit/sth")
        new = await self.parse_sth(data["sth"])
        old = self.head
        if old is not None:
            await self.check_consistent(old, new)
        self.head = new
        if self.state_file is not None:
            self.state_file.write_text(new.token + "\n", encoding="utf-8")
        return new

    async def check_consistent(self, old: TreeHead, new: TreeHead) -> None:
        if new.size < old.size:
            raise LogInconsistent(f"the log shrank from {old.size} to {new.size} entries")
        if new.size == old.size:
            if new.root != old.root:
                raise LogInconsistent("two tree heads of one size with different roots")
            return
        if old.size == 0:
            return
        _, proof = await self.client.request(
            "GET", "/v1/audit/consistency", params={"first": old.size, "second": new.size}
        )
        if not merkle.verify_consistency(
            old.size, new.size, old.root, new.root, proof_hashes(proof.get("path", []))
        ):
            raise LogInconsistent(
                f"the log at {new.size} entries is not an extension of the one at {old.size}"
            )

    async def entry(self, index: int) -> bytes:
        _, data = await self.client.request(
            "GET", "/v1/audit/entries", params={"start": index, "end": index + 1}
        )
        entries = data.get("entries") or []
        if len(entries) != 1 or entries[0].get("index") != index:
            raise LogInconsistent(f"the log has no entry {index}")
        return b64u_decode(entries[0]["leaf"])

    async def opening(self, index: int, leaf: bytes) -> dict[str, Any]:
        """The full entry of the committed ``leaf`` at ``index``, from its opening checked
        against the leaf (issue 17): a server that serves another entry, or edits the
        opening, is caught. Only the entitled get an opening: a 404 means the entry cannot
        be proven to this client (for its own receipt or ack, a server fault)."""
        try:
            _, data = await self.client.request("GET", f"/v1/audit/entries/{index}/opening")
        except NotFound as exc:
            raise LogInconsistent(f"the server opens entry {index} not for this client") from exc
        raw = data.get("opening") if isinstance(data, dict) else None
        if not isinstance(raw, str):
            raise LogInconsistent(f"the server serves no opening of entry {index}")
        try:
            opening = b64u_decode(raw)
        except ExchangeError as exc:
            raise LogInconsistent(f"the opening of entry {index} is malformed") from exc
        return open_leaf(leaf, opening)

    async def read_entry(self, leaf: bytes, index: int) -> dict[str, Any]:
        """The entry a leaf records: itself, or for a committed leaf its opening."""
        entry = _entry_of(leaf)
        if not entry:
            raise LogInconsistent(f"entry {index} is not a JSON object")
        return await self.opening(index, leaf) if is_committed(entry) else entry

    async def opened_entry(self, index: int) -> dict[str, Any]:
        """The entry at ``index`` (opened when committed), without an inclusion proof."""
        return await self.read_entry(await self.entry(index), index)

    async def _fetch_opened(self, index: int) -> tuple[bytes, dict[str, Any]] | None:
        """One request for a committed entry the client expects to be entitled to: the
        leaf and its checked opening, or None when the server has no opening for it (a
        leaf written before leaf privacy)."""
        try:
            _, data = await self.client.request("GET", f"/v1/audit/entries/{index}/opening")
        except NotFound:
            return None
        try:
            leaf = b64u_decode(str(data["leaf"]))
            opening = b64u_decode(str(data["opening"]))
        except (ExchangeError, KeyError, TypeError) as exc:
            raise LogInconsistent(f"the opening of entry {index} is malformed") from exc
        return leaf, open_leaf(leaf, opening)

    async def check_included(self, index: int, *, committed: bool = False) -> dict[str, Any]:
        """The entry at ``index``, proven included under the current head; a committed
        leaf is opened (the caller must be entitled to it). ``committed``: the caller
        expects a bulletin or ack entry of its own, fetched with its opening in one
        request (the leaf it carries is the one proven below)."""
        head = self.head or await self.update()
        if index >= head.size:
            head = await self.update()
        if not 0 <= index < head.size:
            raise LogInconsistent(f"entry {index} is not in the log of {head.size} entries")
        fetched = await self._fetch_opened(index) if committed else None
        leaf = fetched[0] if fetched is not None else await self.entry(index)
        _, proof = await self.client.request(
            "GET", "/v1/audit/proof", params={"index": index, "size": head.size}
        )
        if not merkle.verify_inclusion(
            merkle.leaf_hash(leaf), index, head.size, proof_hashes(proof.get("path", [])), head.root
        ):
            raise LogInconsistent(f"entry {index} is not included under the signed tree head")
        return fetched[1] if fetched is not None else await self.read_entry(leaf, index)

    async def check_receipt(self, receipt: Receipt) -> None:
        """The receipt's bulletin is in the log as the receipt says."""
        e = await self.check_included(receipt.log_index, committed=True)
        want = {
            "kind": "bulletin",
            "bid": receipt.bid,
            "seq": receipt.seq,
            "iss": receipt.iss,
            "recipients": list(receipt.recipients),
            "envelope_sha256": receipt.envelope_sha256,
        }
        if any(e.get(k) != v for k, v in want.items()):
            raise LogInconsistent("the logged entry does not match the receipt")

    async def check_ack(self, ack: dict[str, Any]) -> None:
        """The ack the server answered with is in the log as it says (its opening
        matches the leaf and names this ack's bid, party, status and JWS)."""
        index, token = ack.get("log_index"), ack.get("jws")
        if type(index) is not int or not isinstance(token, str):
            raise LogInconsistent("the ack names no log entry")
        e = await self.check_included(index, committed=True)
        want = {
            "kind": "ack",
            "bid": ack.get("bid"),
            "party": ack.get("party"),
            "status": ack.get("status"),
            "jws_sha256": b64u_encode(hashlib.sha256(token.encode()).digest()),
        }
        if any(e.get(k) != v for k, v in want.items()):
            raise LogInconsistent("the logged entry does not match the ack")

    async def check_directory(self, d: Directory) -> None:
        """The directory document is the one logged for its version (issue 5: a key
        swapped in the database without the API no longer verifies)."""
        index = d.doc.get("log_index")
        if not isinstance(index, int):
            raise LogInconsistent("the directory names no log entry")
        e = await self.check_included(index)
        if e.get("kind") != "directory" or e.get("version") != d.version:
            raise LogInconsistent("the directory's log entry is for another version")
        if e.get("digest") != directory_digest(d.doc):
            raise LogInconsistent("the directory does not match its logged digest")
        newest = await self.newest_directory_version(index)
        if newest > d.version:  # issue 17: an old, genuinely signed directory replayed
            raise LogInconsistent(
                f"the directory is version {d.version}; the log records version {newest}"
            )

    async def newest_directory_version(self, since: int) -> int:
        """The highest directory version the log records from index ``since`` to the
        current head. Versions grow with the log (each change is logged under the log
        lock), so entries read by an earlier call are not read again. A server that serves
        other leaves than it hashed is caught by ``exchange audit verify``."""
        head = await self.update()  # the newest head: a replay hides behind an old one
        start = max(since, self._scanned)
        newest = self._newest
        while start < head.size:
            end = min(head.size, start + _SCAN_PAGE)
            _, data = await self.client.request(
                "GET", "/v1/audit/entries", params={"start": start, "end": end}
            )
            page = data.get("entries") or []
            if not page:
                raise LogInconsistent(f"the log serves no entry at {start}")
            for item in page:
                entry = _entry_of(b64u_decode(str(item.get("leaf", ""))))
                version = entry.get("version")
                if entry.get("kind") == "directory" and type(version) is int:
                    newest = max(newest, version)
            start += len(page)
        self._scanned, self._newest = start, newest
        return newest


_SCAN_PAGE = 1000


def _entry_of(leaf: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(leaf)
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}
