"""Reading the audit log (PROTOCOL §8): signed tree heads, entries and proofs."""

from __future__ import annotations

from typing import Any

from exchange.audit.canonical import canonical_json
from exchange.audit.tree import MerkleCache
from exchange.crypto import b64u_encode, jws
from exchange.errors import InputError
from exchange.service.core import Exchange
from exchange.store import audit as audit_store

__all__ = ["consistency", "entries", "inclusion", "signed_tree_head"]


async def signed_tree_head(ex: Exchange) -> str:
    """O(1): the size and root are kept with each append; signing is the only work."""
    async with ex.db.read() as conn:
        st = await audit_store.tree_state(conn)
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
    async with ex.db.read() as conn:
        rows = await audit_store.leaves(conn, start, end)
    return [{"index": i, "leaf": b64u_encode(leaf)} for i, leaf in rows]


async def _tree(ex: Exchange, size: int) -> MerkleCache:
    """This node's tree, holding at least ``size`` leaves. Leaves are immutable once
    appended, so only the new ones are read from the database."""
    tree = ex.tree
    async with ex.db.read() as conn:
        st = await audit_store.tree_state(conn)
        if size > st.size:
            raise InputError(f"the log has only {st.size} entries")
        if tree.size < size:
            start = tree.size
            for i, h in enumerate(await audit_store.leaf_hashes(conn, start, st.size)):
                if start + i == tree.size:  # another request may have synced meanwhile
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
