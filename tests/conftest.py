"""Fixtures shared by the suite. ``backend`` runs a test on SQLite, and on PostgreSQL too
when ``EXCHANGE_TEST_PG_URL`` is set (each test gets its own fresh database)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from blockbuster import blockbuster_ctx
from pgdb import BACKENDS, create_database, drop_database
from support import Harness, start_harness

#: the server's packages: the SDK and the CLI (client side, own processes) are not scanned
_SERVER = ["exchange.api", "exchange.service", "exchange.store", "exchange.node"]
#: where blocking is allowed: set-up, shutdown and the CLI, never a request's path
_MAY_BLOCK: dict[str, set[str]] = {
    "exchange/node/setup.py": {"init", "open_exchange"},
    "exchange/keyfiles.py": {"read_profile", "write_profile", "write_private_jwk"},
    # start-up and `exchange migrate`: the schema's revisions are read from the package's
    # files, a SQLite file is looked for before it is opened
    "exchange/store/migrate.py": {
        "<lambda>",
        "upgrade",
        "_upgrade",
        "_config",
        "_scripts",
        "_head",
        "require_database",
        "schema_state",
        "check_schema",
    },
    "exchange/store/migrations/env.py": {"<module>", "_run"},
    # opening (engine set-up reads the file system) and closing (joins its threads)
    "exchange/store/db.py": {"__init__", "close"},
    # a test's stand-in for a slow report query (on PostgreSQL it runs on the loop's
    # greenlet, as the real query's driver calls do without blocking)
    "tests/reports/test_limits.py": {"slow"},
    # a commit from another connection in the middle of a read transaction (on
    # PostgreSQL the read's function runs on the loop's greenlet)
    "tests/store/test_transactions.py": {"_commit_elsewhere"},
    # asyncpg looks for ~/.pgpass (one stat) when it opens a connection: pool growth only
    "asyncpg/connect_utils.py": {"_read_password_from_pgpass", "_parse_connect_dsn_and_args"},
}


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}"
        return
    name, url = await create_database("ex")
    try:
        yield url
    finally:
        await drop_database(name)


@pytest.fixture
async def harness(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path, db_url)
    try:
        yield h
    finally:
        await h.close()


@pytest.fixture(autouse=True)
def no_blocking_calls() -> Iterator[None]:
    """Issue 17: no request path blocks the event loop. ``blockbuster`` raises
    ``BlockingError`` for a blocking call (file, socket, sleep, lock) made on a running
    loop; start-up and test-side code that may block is listed in :data:`_MAY_BLOCK`."""
    with blockbuster_ctx(scanned_modules=_SERVER) as bb:
        for fn in bb.functions.values():
            for module, names in _MAY_BLOCK.items():
                fn.can_block_in(module, names)
        yield
