"""PROTOCOL §6: single-use request-token ids, enforced by a primary key."""

from __future__ import annotations

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from exchange.store import schema as s

__all__ = ["prune_jtis", "use_jtis"]


_SPEND = {
    "postgresql": pg_insert(s.jtis)
    .on_conflict_do_nothing(index_elements=["jti"])
    .returning(s.jtis.c.jti),
    "sqlite": sqlite_insert(s.jtis)
    .on_conflict_do_nothing(index_elements=["jti"])
    .returning(s.jtis.c.jti),
}


def use_jtis(conn: Connection, batch: list[tuple[str, int]]) -> set[str]:
    """Record many distinct ids in one statement; returns those that were new.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING``, built once and run as one
    executemany: an id already present (spent on any node) is simply not returned; the
    primary key still decides every race."""
    rows = conn.execute(_SPEND[conn.dialect.name], [{"jti": j, "exp": e} for j, e in batch])
    return {str(r.jti) for r in rows.all()}


def prune_jtis(conn: Connection, now: int, skew: int) -> int:
    """Forget ids whose token can no longer be accepted anyway."""
    res = conn.execute(delete(s.jtis).where(s.jtis.c.exp < now - skew))
    return int(res.rowcount or 0)
