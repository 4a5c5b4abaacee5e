"""The append-only audit log table (PROTOCOL §8). Appends happen inside the caller's
write transaction, so a change and its leaf commit together or not at all."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from exchange.audit.canonical import canonical_json
from exchange.audit.merkle import Frontier, leaf_hash
from exchange.audit.privacy import PRIVATE_KINDS, commit
from exchange.store import schema as s

__all__ = [
    "Appender",
    "Opening",
    "TreeState",
    "append",
    "leaf_hashes",
    "leaves",
    "lock_log",
    "opening",
    "tree_state",
]


@dataclass(frozen=True)
class TreeState:
    size: int
    root_hash: bytes
    updated_at: int


@dataclass(frozen=True)
class Opening:
    """A committed leaf's opening and who may read it (issue 17, leaf privacy)."""

    leaf: bytes
    opening: bytes
    readers: frozenset[str]


# Statements built once: SQLAlchemy then reuses their compiled form.
_LOCK = select(s.audit_state.c.id).where(s.audit_state.c.id == 1)
_LOCK_PG = _LOCK.with_for_update()
_STATE = select(s.audit_state).where(s.audit_state.c.id == 1)
_INSERT_LEAF = insert(s.audit_leaves)
_INSERT_OPENING = insert(s.audit_openings)
_INSERT_STATE = insert(s.audit_state)
_UPDATE_STATE = update(s.audit_state).where(s.audit_state.c.id == 1)


def lock_log(conn: Connection) -> None:
    """Take the log's append lock for this transaction.

    Everything that appends (and every bulletin admission, which draws its ``seq`` after
    this) is serialised here, so commit order equals sequence order on every backend and
    a cursor reader never skips a row that commits late (ADR 0005)."""
    conn.execute(_LOCK_PG if conn.dialect.name == "postgresql" else _LOCK)


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
        self._openings: list[dict[str, Any]] = []
        self._now = 0

    def add(self, entry: dict[str, Any], now: int, readers: Iterable[str] = ()) -> int:
        """Queue one leaf; returns its index. An entry of a private kind is logged as a
        salted commitment, its opening kept for ``readers`` (and the operator)."""
        if entry.get("kind") in PRIVATE_KINDS:
            leaf, opening = commit(entry)
            who = json.dumps(sorted(set(readers)), separators=(",", ":"))
            self._openings.append({"idx": self.size, "opening": opening, "readers": who})
        else:
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
        if self._openings:
            self._conn.execute(_INSERT_OPENING, self._openings)
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
        self._openings = []


def append(conn: Connection, entry: dict[str, Any], now: int, readers: Iterable[str] = ()) -> int:
    """Append one leaf; returns its index. The caller holds the write transaction."""
    lock_log(conn)
    log = Appender(conn)
    idx = log.add(entry, now, readers)
    log.flush()
    return idx


def tree_state(conn: Connection) -> TreeState:
    row = conn.execute(_STATE).first()
    if row is None:
        return TreeState(0, Frontier().root(), 0)
    return TreeState(int(row.size), bytes(row.root_hash), int(row.updated_at))


def leaves(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    al = s.audit_leaves
    rows = conn.execute(
        select(al.c.idx, al.c.leaf).where(al.c.idx >= start, al.c.idx < end).order_by(al.c.idx)
    ).all()
    return [(int(r.idx), bytes(r.leaf)) for r in rows]


def leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
    """Leaf hashes with ``start <= idx < end``, in order."""
    al = s.audit_leaves
    rows = conn.execute(
        select(al.c.leaf_hash).where(al.c.idx >= start, al.c.idx < end).order_by(al.c.idx)
    ).all()
    return [bytes(r.leaf_hash) for r in rows]


def opening(conn: Connection, index: int) -> Opening | None:
    """The opening of the committed leaf at ``index``; None for a public leaf or none."""
    al, ao = s.audit_leaves, s.audit_openings
    row = conn.execute(
        select(al.c.leaf, ao.c.opening, ao.c.readers)
        .select_from(ao.join(al, al.c.idx == ao.c.idx))
        .where(ao.c.idx == index)
    ).first()
    if row is None:
        return None
    readers = frozenset(str(p) for p in json.loads(row.readers))
    return Opening(bytes(row.leaf), bytes(row.opening), readers)
