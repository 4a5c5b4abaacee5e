"""Fixtures of the API security tests.

``world`` is one real server per test module (and per backend: SQLite, and PostgreSQL
when ``EXCHANGE_TEST_PG_URL`` is set), so that long attack tables cost one start-up.
Tests that use it run in the module's event loop: mark them
``@pytest.mark.asyncio(loop_scope="module")``. ``make_harness`` starts a server with
other limits, inside one test's own loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from api._kit import GENEROUS, Caller, HarnessFactory, Wire, World
from pgdb import BACKENDS, create_database, drop_database
from support import Harness, start_harness

from exchange.crypto.keys import Ed25519Signer, HybridSigner


def admin_caller(h: Harness) -> Caller:
    signer = h.admin.signer
    assert isinstance(signer, Ed25519Signer | HybridSigner)
    return Caller(h.admin.client_id, signer)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("world")
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'exchange.db'}"
    else:
        pg_name, url = await create_database("exapi")
    # a module checking the contract's Ed25519 server key with an independent JOSE library
    # sets SERVER_SIGNING = "ed25519" (what an operator runs as `exchange init --ed25519`)
    signing = getattr(request.module, "SERVER_SIGNING", "hybrid")
    h = await start_harness(tmp, url, limits=GENEROUS, signing=signing)
    wire = Wire(h.url, h.exchange_id)
    try:
        yield World(h, wire, admin_caller(h))
    finally:
        await wire.close()
        await h.close()
        if pg_name is not None:
            await drop_database(pg_name)


@pytest.fixture
async def make_harness(tmp_path: Path, db_url: str) -> AsyncIterator[HarnessFactory]:
    """Start servers with config overrides (``limits=Limits(...)``) in this test's loop."""
    started: list[tuple[Harness, Wire]] = []

    async def make(**config: Any) -> tuple[Harness, Wire, Caller]:
        assert not started, "one server per test: they would share the database"
        h = await start_harness(tmp_path, db_url, **config)
        wire = Wire(h.url, h.exchange_id)
        started.append((h, wire))
        return h, wire, admin_caller(h)

    try:
        yield make
    finally:
        for h, wire in started:
            await wire.close()
            await h.close()
