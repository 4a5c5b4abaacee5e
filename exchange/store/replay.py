"""PROTOCOL §6: single-use request-token ids, enforced by a primary key."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.store import schema as s

__all__ = ["prune_jtis", "use_jti"]


async def use_jti(conn: AsyncConnection, jti: str, exp: int) -> bool:
    """Record ``jti``; False when it was already used (here or on another node)."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(s.jtis).values(jti=jti, exp=exp))
    except IntegrityError:
        return False
    return True


async def prune_jtis(conn: AsyncConnection, now: int, skew: int) -> int:
    """Forget ids whose token can no longer be accepted anyway."""
    res = await conn.execute(delete(s.jtis).where(s.jtis.c.exp < now - skew))
    return int(res.rowcount or 0)
