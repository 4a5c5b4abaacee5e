"""The append-only audit log table (PROTOCOL §8). Appends happen inside the caller's
write transaction, so a change and its leaf commit together or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.audit.canonical import canonical_json
from exchange.audit.merkle import Frontier, leaf_hash
from exchange.store import schema as s

__all__ = [
    "Appender",
    "TreeState",
    "append",
    "append_txn",
    "leaf_hashes",
    "leaves",
    "lock_log",
    "lock_log_txn",
    "tree_state",
]


@dataclass(frozen=True)
class TreeState:
    size: int
    root_hash: bytes
    updated_at: int


# Statements built once: SQLAlchemy then reuses their compiled form.
_LOCK = select(s.audit_state.c.id).where(s.audit_state.c.id == 1)
_LOCK_PG = _LOCK.with_for_update()
_STATE = select(s.audit_state).where(s.audit_state.c.id == 1)
_INSERT_LEAF = insert(s.audit_leaves)
_INSERT_STATE = insert(s.audit_state)
_UPDATE_STATE = update(s.audit_state).where(s.audit_state.c.id == 1)


def lock_log_txn(conn: Connection) -> None:
    """Take the log's append lock for this transaction.

    Everything that appends (and every bulletin admission, which draws its ``seq`` after
    this) is serialised here, so commit order equals sequence order on every backend and
    a cursor reader never skips a row that commits late (ADR 0005)."""
    conn.execute(_LOCK_PG if conn.dialect.name == "postgresql" else _LOCK)


async def lock_log(conn: AsyncConnection) -> None:
    await conn.run_sync(lock_log_txn)


class Appender:
    """Appends leaves in the caller's write transaction, which holds the log lock: the
    state is read once and written once, the leaves in one statement at :meth:`flush`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        row = conn.execute(_STATE).first()
        self._fresh = row is None
        self.size = 0 if row is None else int(row.size)
        self._frontier = Frontier() if row is None else Frontier.from_json(json.loads(row.frontier))
        self._rows: list[dict[str, Any]] = []
        self._now = 0

    def add(self, entry: dict[str, Any], now: int) -> int:
        """Queue one leaf; returns its index."""
        leaf = canonical_json(entry)
        h = leaf_hash(leaf)
        self._rows.append({"idx": self.size, "leaf": leaf, "leaf_hash": h, "created_at": now})
        self._frontier.append(h)
        self._now = now
        self.size += 1
        return self.size - 1

    def flush(self) -> None:
        if not self._rows:
            return
        self._conn.execute(_INSERT_LEAF, self._rows)
        values = {
            "size": self.size,
            "frontier": json.dumps(self._frontier.to_json(), separators=(",", ":")),
            "root_hash": self._frontier.root(),
            "updated_at": self._now,
        }
        if self._fresh:
            self._conn.execute(_INSERT_STATE, {"id": 1, **values})
            self._fresh = False
        else:
            self._conn.execute(_UPDATE_STATE, values)
        self._rows = []


def append_txn(conn: Connection, entry: dict[str, Any], now: int) -> int:
    """Append one leaf; returns its index. The caller holds the write transaction."""
    lock_log_txn(conn)
    log = Appender(conn)
    idx = log.add(entry, now)
    log.flush()
    return idx


async def append(conn: AsyncConnection, entry: dict[str, Any], now: int) -> int:
    return await conn.run_sync(append_txn, entry, now)


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
