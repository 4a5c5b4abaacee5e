"""Apply and check Alembic migrations on the live async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from exchange.errors import StorageError
from exchange.store.db import Database

__all__ = ["check_schema", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (``exchange init``, tests, the demo)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_config(c), "head"))


async def check_schema(db: Database) -> None:
    """Refuse to serve on an unmigrated or newer schema (``exchange serve``)."""
    async with db.engine.connect() as conn:
        current = await conn.run_sync(
            lambda c: MigrationContext.configure(c).get_current_revision()
        )
    head = _head()
    if current is None:
        raise StorageError(f"database {db.url} is not initialised: run 'exchange init' first")
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise StorageError(
            f"database schema {current} is newer than this server knows (head {head}): "
            "upgrade the server"
        )
    if current != head:
        raise StorageError(
            f"database schema {current} is behind {head}: run 'exchange init' to migrate"
        )
