"""Reading the audit log (PROTOCOL §8): signed tree heads, entries, proofs and, for the
entitled, the openings of committed leaves (issue 17, leaf privacy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.audit.canonical import canonical_json
from exchange.audit.tree import MerkleCache
from exchange.config import Limits
from exchange.crypto import b64u_encode, jws
from exchange.crypto.keys import SigningKey
from exchange.errors import InputError, NotFound
from exchange.service.caller import Caller
from exchange.service.clock import Clock
from exchange.store import audit as audit_store
from exchange.store.db import Database

__all__ = ["AuditLog"]


class AuditLog:
    """The log as readers see it, with this node's last signed tree head and its copy of
    the log's leaf hashes and complete subtrees (append-only)."""

    def __init__(self, *, db: Database, signer: SigningKey, clock: Clock, limits: Limits) -> None:
        self.db = db
        self.signer = signer
        self.clock = clock
        self.limits = limits
        self.sth: tuple[int, str] | None = None
        self.tree = MerkleCache()

    async def signed_tree_head(self) -> str:
        """O(1): the size and root are kept with each append; signing is the only work."""
        st = await self.db.run_read(audit_store.tree_state, single=True)
        cached = self.sth
        if cached is not None and cached[0] == st.size:
            return cached[1]
        body = {
            "tree_size": st.size,
            "root_hash": b64u_encode(st.root_hash),
            "timestamp": self.clock.ms(),
        }
        token = jws.sign_compact(canonical_json(body), self.signer, jws.TYP_STH)
        self.sth = (st.size, token)
        return token

    async def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        if end <= start:
            raise InputError("end must be greater than start")
        end = min(end, start + self.limits.audit_max_page)
        rows = await self.db.run_read(lambda c: audit_store.leaves(c, start, end), single=True)
        return [{"index": i, "leaf": b64u_encode(leaf)} for i, leaf in rows]

    async def _tree(self, size: int) -> MerkleCache:
        """This node's tree, holding at least ``size`` leaves. Leaves are immutable once
        appended, so only the new ones are read from the database."""
        tree = self.tree

        def read(conn: Connection) -> tuple[int, int, list[bytes]]:
            st = audit_store.tree_state(conn)
            start = tree.size
            if size > st.size or start >= size:
                return st.size, start, []
            return st.size, start, audit_store.leaf_hashes(conn, start, st.size)

        known, start, hashes = await self.db.run_read(read)
        if size > known:
            raise InputError(f"the log has only {known} entries")
        for h in hashes[tree.size - start :]:  # another request may have synced meanwhile
            tree.append(h)
        return tree

    async def inclusion(self, index: int, size: int) -> dict[str, Any]:
        if not 0 <= index < size:
            raise InputError("index must be below size")
        path = (await self._tree(size)).inclusion_path(index, size)
        return {"index": index, "tree_size": size, "path": [b64u_encode(h) for h in path]}

    async def consistency(self, first: int, second: int) -> dict[str, Any]:
        if not 0 < first <= second:
            raise InputError("need 0 < first <= second")
        path = (await self._tree(second)).consistency_path(first, second)
        return {"first": first, "second": second, "path": [b64u_encode(h) for h in path]}

    async def opening(self, caller: Caller, index: int) -> dict[str, Any]:
        """The full entry and salt of a committed leaf, for the parties entitled to it and
        the operator (issue 17, leaf privacy). A public leaf, an index beyond the log and a
        leaf the caller is not entitled to all answer the same 404."""
        found = await self.db.run_read(lambda c: audit_store.opening(c, index), single=True)
        entitled = found is not None and (caller.is_admin or caller.party in found.readers)
        if found is None or not entitled:
            raise NotFound("no opening of this entry for this client")
        return {
            "index": index,
            "leaf": b64u_encode(found.leaf),
            "opening": b64u_encode(found.opening),
        }
