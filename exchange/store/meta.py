"""Facts about the exchange a database belongs to (``exchange_meta``): its id."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from exchange.store.schema import exchange_meta

__all__ = ["get_exchange_id", "set_exchange_id"]

_EXCHANGE_ID = "exchange_id"


def get_exchange_id(conn: Connection) -> str | None:
    """The exchange id recorded by ``init`` or ``migrate`` (None: not recorded yet)."""
    row = conn.execute(
        select(exchange_meta.c.value).where(exchange_meta.c.key == _EXCHANGE_ID)
    ).first()
    return None if row is None else str(row[0])


def set_exchange_id(conn: Connection, exchange_id: str) -> None:
    """Record the exchange id once; it never changes (every token's audience is it)."""
    conn.execute(insert(exchange_meta).values(key=_EXCHANGE_ID, value=exchange_id))
