"""Apply and check Alembic migrations in a transaction of the database, and the exchange id a
database belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from exchange.errors import InputError, StorageError
from exchange.store.db import Database
from exchange.store.meta import get_exchange_id, set_exchange_id

__all__ = [
    "Revision",
    "SchemaState",
    "check_exchange_id",
    "check_schema",
    "migrate_to",
    "require_database",
    "schema_state",
    "sqlite_file",
    "upgrade",
]

_HERE = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _head() -> str | None:
    return _scripts().get_current_head()


@dataclass(frozen=True)
class Revision:
    revision: str
    title: str  # the first line of the revision's docstring


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against the revisions this code knows."""

    current: str | None
    head: str | None
    pending: list[Revision]  # oldest first; empty when up to date
    unknown: bool  # ``current`` is newer than this code (a newer server migrated it)


def sqlite_file(db: Database) -> Path | None:
    """The file of a SQLite database (None: PostgreSQL or in memory)."""
    path = db.sqlite_path
    return Path(path) if path else None


def require_database(db: Database) -> None:
    """Refuse a SQLite file that does not exist, before anything opens (and so creates) it:
    ``serve`` or ``migrate`` in the wrong folder must not leave a stray empty database."""
    path = sqlite_file(db)
    if path is not None and not path.exists():
        raise InputError(
            f"no database at {path}: run 'exchange init' first (or pass --db / EXCHANGE_DB_URL)"
        )


async def schema_state(db: Database) -> SchemaState:
    current = await db.run_read(lambda c: MigrationContext.configure(c).get_current_revision())
    scripts = _scripts()
    head = scripts.get_current_head()
    known = {s.revision for s in scripts.walk_revisions()}
    if current is not None and current not in known:
        return SchemaState(current, head, [], True)
    pending = [
        Revision(s.revision, (s.doc or "").strip().splitlines()[0] if s.doc else "")
        for s in scripts.iterate_revisions(head, current)
    ]
    pending.reverse()
    return SchemaState(current, head, pending, False)


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (``exchange init``, ``migrate``, tests)."""
    await migrate_to(db, "head")


async def migrate_to(db: Database, revision: str, *, down: bool = False) -> None:
    """Upgrade (or with ``down`` downgrade) the schema to ``revision`` in one write
    transaction (tests and benchmarks step through revisions)."""
    step = command.downgrade if down else command.upgrade
    await db.run_write(lambda c: step(_config(c), revision))


async def check_schema(db: Database) -> None:
    """Refuse to serve on an unmigrated or newer schema (``exchange serve``)."""
    state = await schema_state(db)
    if state.current is None:
        raise StorageError(f"database {db.url} is not initialised: run 'exchange init' first")
    if state.unknown:
        raise StorageError(
            f"database schema {state.current} is newer than this server knows "
            f"(head {state.head}): upgrade the server"
        )
    if state.pending:
        raise StorageError(
            f"database schema {state.current} is behind {state.head} "
            f"({len(state.pending)} migrations pending): back it up, then run 'exchange migrate'"
        )


async def check_exchange_id(db: Database, exchange_id: str, *, record: bool = False) -> str:
    """The database's exchange id, which must be ``exchange_id``. ``record``: a database
    made before the id was kept gets ``exchange_id`` (``init``, ``migrate``)."""
    recorded = await db.run_read(get_exchange_id)
    if recorded is None:
        if not record:
            raise StorageError(
                "this database does not record its exchange id yet: run 'exchange migrate' "
                "with the exchange id its clients use (--exchange-id or EXCHANGE_ID)"
            )
        await db.run_write(lambda c: set_exchange_id(c, exchange_id))
        return exchange_id
    if recorded != exchange_id:
        raise InputError(
            f"this database belongs to exchange '{recorded}', not '{exchange_id}': set "
            f'exchange_id = "{recorded}" in the config file, EXCHANGE_ID or --exchange-id '
            "(every client's tokens name it)"
        )
    return recorded
