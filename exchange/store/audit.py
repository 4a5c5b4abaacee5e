"""The append-only audit log table (PROTOCOL §8). Appends happen inside the caller's
write transaction, so a change and its leaf commit together or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.audit.canonical import canonical_json
from exchange.audit.merkle import Frontier, leaf_hash
from exchange.store import schema as s

__all__ = ["TreeState", "append", "leaf_hashes", "leaves", "lock_log", "tree_state"]


@dataclass(frozen=True)
class TreeState:
    size: int
    root_hash: bytes
    updated_at: int


async def lock_log(conn: AsyncConnection) -> None:
    """Take the log's append lock for this transaction.

    Everything that appends (and every bulletin admission, which draws its ``seq`` after
    this) is serialised here, so commit order equals sequence order on every backend and
    a cursor reader never skips a row that commits late (ADR 0005)."""
    st = s.audit_state
    stmt = select(st.c.id).where(st.c.id == 1)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    await conn.execute(stmt)


async def _state(conn: AsyncConnection) -> tuple[int, Frontier]:
    row = (await conn.execute(select(s.audit_state).where(s.audit_state.c.id == 1))).first()
    if row is None:
        return 0, Frontier()
    return int(row.size), Frontier.from_json(json.loads(row.frontier))


async def append(conn: AsyncConnection, entry: dict[str, Any], now: int) -> int:
    """Append one leaf; returns its index. The caller holds the write transaction."""
    await lock_log(conn)
    size, frontier = await _state(conn)
    leaf = canonical_json(entry)
    h = leaf_hash(leaf)
    await conn.execute(
        insert(s.audit_leaves).values(idx=size, leaf=leaf, leaf_hash=h, created_at=now)
    )
    frontier.append(h)
    values = {
        "size": size + 1,
        "frontier": json.dumps(frontier.to_json(), separators=(",", ":")),
        "root_hash": frontier.root(),
        "updated_at": now,
    }
    if size == 0:
        await conn.execute(insert(s.audit_state).values(id=1, **values))
    else:
        await conn.execute(update(s.audit_state).where(s.audit_state.c.id == 1).values(**values))
    return size


async def tree_state(conn: AsyncConnection) -> TreeState:
    row = (await conn.execute(select(s.audit_state).where(s.audit_state.c.id == 1))).first()
    if row is None:
        return TreeState(0, Frontier().root(), 0)
    return TreeState(int(row.size), bytes(row.root_hash), int(row.updated_at))


async def leaves(conn: AsyncConnection, start: int, end: int) -> list[tuple[int, bytes]]:
    al = s.audit_leaves
    rows = (
        await conn.execute(
            select(al.c.idx, al.c.leaf).where(al.c.idx >= start, al.c.idx < end).order_by(al.c.idx)
        )
    ).all()
    return [(int(r.idx), bytes(r.leaf)) for r in rows]


async def leaf_hashes(conn: AsyncConnection, start: int, end: int) -> list[bytes]:
    """Leaf hashes with ``start <= idx < end``, in order."""
    al = s.audit_leaves
    rows = (
        await conn.execute(
            select(al.c.leaf_hash).where(al.c.idx >= start, al.c.idx < end).order_by(al.c.idx)
        )
    ).all()
    return [bytes(r.leaf_hash) for r in rows]
