"""A burst of report requests runs at most REPORTS_AT_ONCE at a time on a node."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from support import Harness

from exchange.client.reports import fetch_report
from exchange.service import reports as service_reports
from exchange.store import reports as rstore


async def test_reports_wait_their_turn(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.enrol("KZ")
    lock = threading.Lock()
    active, peak = 0, 0
    real = rstore.figures

    def slow(*args: Any, **kw: Any) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.3)
            return real(*args, **kw)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(rstore, "figures", slow)
    reports = await asyncio.gather(*(fetch_report(harness.admin) for _ in range(6)))
    assert len(reports) == 6 and all(r["scope"]["kind"] == "all" for r in reports)
    assert peak == service_reports.REPORTS_AT_ONCE
