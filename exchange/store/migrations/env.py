"""Alembic environment: runs on a connection handed over by ``exchange.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from exchange.store.schema import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


conn = config.attributes.get("connection")
if conn is not None:
    _run(conn)
else:  # the alembic command line, for authoring revisions against a sync URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as c:
        _run(c)
