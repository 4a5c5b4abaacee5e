"""Reading the audit log (PROTOCOL §8): signed tree heads, entries and proofs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.audit.canonical import canonical_json
from exchange.audit.tree import MerkleCache
from exchange.crypto import jws
from exchange.crypto._b64 import b64u_encode
from exchange.errors import InputError, NotFound
from exchange.service.core import Caller, Exchange
from exchange.store import audit as audit_store

__all__ = ["consistency", "entries", "inclusion", "opening", "signed_tree_head"]


async def signed_tree_head(ex: Exchange) -> str:
    """O(1): the size and root are kept with each append; signing is the only work."""
    st = await ex.db.run_read(audit_store.tree_state, single=True)
    cached = ex.sth_cache
    if cached is not None and cached[0] == st.size:
        return cached[1]
    body = {
        "tree_size": st.size,
        "root_hash": b64u_encode(st.root_hash),
        "timestamp": ex.clock.ms(),
    }
    token = jws.sign_compact(canonical_json(body), ex.signer, jws.TYP_STH)
    ex.sth_cache = (st.size, token)
    return token


async def entries(ex: Exchange, start: int, end: int) -> list[dict[str, Any]]:
    if end <= start:
        raise InputError("end must be greater than start")
    end = min(end, start + ex.limits.audit_max_page)
    rows = await ex.db.run_read(lambda c: audit_store.leaves(c, start, end), single=True)
    return [{"index": i, "leaf": b64u_encode(leaf)} for i, leaf in rows]


async def _tree(ex: Exchange, size: int) -> MerkleCache:
    """This node's tree, holding at least ``size`` leaves. Leaves are immutable once
    appended, so only the new ones are read from the database."""
    tree = ex.tree

    def read(conn: Connection) -> tuple[int, int, list[bytes]]:
        st = audit_store.tree_state(conn)
        start = tree.size
        if size > st.size or start >= size:
            return st.size, start, []
        return st.size, start, audit_store.leaf_hashes(conn, start, st.size)

    known, start, hashes = await ex.db.run_read(read)
    if size > known:
        raise InputError(f"the log has only {known} entries")
    for h in hashes[tree.size - start :]:  # another request may have synced meanwhile
        tree.append(h)
    return tree


async def inclusion(ex: Exchange, index: int, size: int) -> dict[str, Any]:
    if not 0 <= index < size:
        raise InputError("index must be below size")
    path = (await _tree(ex, size)).inclusion_path(index, size)
    return {"index": index, "tree_size": size, "path": [b64u_encode(h) for h in path]}


async def consistency(ex: Exchange, first: int, second: int) -> dict[str, Any]:
    if not 0 < first <= second:
        raise InputError("need 0 < first <= second")
    path = (await _tree(ex, second)).consistency_path(first, second)
    return {"first": first, "second": second, "path": [b64u_encode(h) for h in path]}


async def opening(ex: Exchange, caller: Caller, index: int) -> dict[str, Any]:
    """The full entry and salt of a committed leaf, for the parties entitled to it and
    the operator (issue 17, leaf privacy). A public leaf, an index beyond the log and a
    leaf the caller is not entitled to all answer the same 404."""
    found = await ex.db.run_read(lambda c: audit_store.opening(c, index), single=True)
    entitled = found is not None and (caller.is_admin or caller.party in found.readers)
    if found is None or not entitled:
        raise NotFound("no opening of this entry for this client")
    return {"index": index, "leaf": b64u_encode(found.leaf), "opening": b64u_encode(found.opening)}
