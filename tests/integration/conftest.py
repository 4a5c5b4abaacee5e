"""Fixtures for the integration suite: a harness factory for tests that need a server
configured differently (tiny ack deadlines, high rate limits, a fast poll), and a guard
that fails a test when the server logged an error or leaked an exception from a task."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from integration._flows import MakeHarness
from support import Harness, start_harness


@pytest.fixture(autouse=True)
async def no_leaked_errors(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """An exception nobody retrieved (``Task exception was never retrieved``), an error
    in a callback, or a log record at ERROR (an unhandled error turned into a 500) fails
    the test. Set up before the harness, so it also watches the server's shutdown."""
    loop = asyncio.get_running_loop()
    leaked: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: leaked.append(context))
    caplog.set_level(logging.WARNING)
    try:
        yield
        gc.collect()  # finalise dropped tasks now, so that their leaks are reported here
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not leaked, [c.get("message") for c in leaked] + [
        repr(c.get("exception")) for c in leaked
    ]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
async def make_harness(tmp_path: Path, db_url: str) -> AsyncIterator[MakeHarness]:
    """``await make_harness(**ServerConfig overrides)``: one server per test, closed after."""
    started: list[Harness] = []

    async def make(**config: Any) -> Harness:
        assert not started, "one harness per test (one database)"
        h = await start_harness(tmp_path, db_url, **config)
        started.append(h)
        return h

    try:
        yield make
    finally:
        for h in started:
            await h.close()
