"""A PostgreSQL database for a benchmark: emptied before each run (schema dropped and made
again), so that every run starts from the same place as a fresh SQLite file does.

Shared by bench/reports.py (``--fresh``) and bench/ingest.py (``--db``). The database
itself is not created here: the scripts say how when it is missing.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from exchange.errors import StorageError
from exchange.store.db import Database, normalise_url


def create_hint(url: str) -> str:
    """The command that creates the database ``url`` names."""
    u = make_url(normalise_url(url))
    return (
        f"psql -h {u.host or '127.0.0.1'} -p {u.port or 5432} -U {u.username or 'postgres'} "
        f"-c 'CREATE DATABASE {u.database}'"
    )


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for the printed settings."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


async def fresh_pg(url: str) -> None:
    """Drop and recreate the ``public`` schema of ``url``: every table, sequence and the
    migration mark go. Exits with how to create the database when it does not exist."""
    db = Database(url)

    def fresh(conn: Connection) -> None:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")

    try:
        await db.run_write(fresh)
    except StorageError as exc:
        cause = exc.__cause__
        while cause is not None and cause.__cause__ is not None:
            cause = cause.__cause__
        if "does not exist" in str(cause):
            raise SystemExit(
                f"{safe_url(url)}: the database does not exist; create it once with\n"
                f"  {create_hint(url)}"
            ) from None
        raise SystemExit(f"{safe_url(url)}: cannot empty the database: {cause}") from None
    finally:
        await db.close()
