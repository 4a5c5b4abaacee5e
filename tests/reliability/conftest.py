"""The reliability suite (issue 7). Its tests run on SQLite and, when
``EXCHANGE_TEST_PG_URL`` is set, on PostgreSQL (the ``db_url`` fixture of tests/conftest.py).

``soak`` tests (thousands of streams, long runs) are left out unless selected with
``-m soak``; everything else, ``slow`` included, runs in CI."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: long or large runs; only with -m soak")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.option.markexpr or ""):
        return
    keep = [i for i in items if i.get_closest_marker("soak") is None]
    dropped = [i for i in items if i.get_closest_marker("soak") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
