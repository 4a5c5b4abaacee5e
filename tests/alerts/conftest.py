"""Fixtures of the alert tests: a harness factory (one server per test, SQLite and
PostgreSQL) and a receiving server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alerts._kit import MakeHarness, Receiver
from support import Harness, start_harness


@pytest.fixture
async def make_harness(tmp_path: Path, db_url: str) -> AsyncIterator[MakeHarness]:
    started: list[Harness] = []

    async def make(**config: Any) -> Harness:
        h = await start_harness(tmp_path / f"h{len(started)}", db_url, **config)
        started.append(h)
        return h

    try:
        yield make
    finally:
        for h in started:
            await h.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()
