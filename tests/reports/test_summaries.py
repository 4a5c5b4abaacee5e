"""Per-day report summaries (ADR 0018): a report read from them holds the same counts,
shares, trend and overdue list as one read from the delivery rows, and medians and
90th percentiles within the documented 1 % (0.5 s below one second); a late ack or a
late delivery on a summarized day reaches the next report."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from reports._small import BIDS, T0, T0_DATE, rows
from sqlalchemy import insert, select
from support import Harness

from exchange.client.reports import fetch_report
from exchange.store import history, report_days
from exchange.store import inbox as inbox_store
from exchange.store import reports as rstore
from exchange.store import schema as s

FROM = T0_DATE.isoformat()
TO = (T0_DATE + timedelta(days=6)).isoformat()
H = 3_600_000


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= max(0.01 * abs(b), 0.5)


def _same(exact: dict[str, Any], approx: dict[str, Any]) -> None:
    assert not exact["approximate"] and approx["approximate"]
    for key in ("posted", "trend", "scope", "from", "to"):
        assert approx[key] == exact[key], key
    assert approx["overdue"]["total"] == exact["overdue"]["total"]

    def late(r: dict[str, Any]) -> list[Any]:  # as of each report's generation
        return [{k: v for k, v in o.items() if k != "late_s"} for o in r["overdue"]["items"]]

    assert late(approx) == late(exact)
    assert len(approx["recipients"]) == len(exact["recipients"])
    for e, a in zip(exact["recipients"], approx["recipients"], strict=True):
        assert {k: v for k, v in a.items() if k != "times"} == {
            k: v for k, v in e.items() if k != "times"
        }
        if e["times"] is None:
            assert a["times"] is None
            continue
        for step, t in e["times"].items():
            u = a["times"][step]
            assert u["n"] == t["n"], (e["party"], step)
            assert _close(u["median_s"], t["median_s"]), (e["party"], step, u, t)
            assert _close(u["p90_s"], t["p90_s"]), (e["party"], step, u, t)


async def _world(h: Harness) -> None:
    await h.cac()
    b, d, a = rows()
    await h.server.exchange.db.run_write(lambda c: history.bulk_history(c, b, d, a))
    assert await h.server.exchange.reports.refresh_summaries(None) == 0


@pytest.mark.parametrize(
    "query",
    [
        {"group": "cac-avsec", "start": FROM, "end": TO},
        {"party": "KZ", "start": FROM, "end": TO},
        {"start": FROM, "end": (T0_DATE + timedelta(days=12)).isoformat()},
        # edges in the middle of a day: those hours are read from the delivery rows
        {
            "start": f"{FROM}T00:00:30Z",
            "end": f"{(T0_DATE + timedelta(days=2)).isoformat()}T12:00:00Z",
        },
    ],
)
async def test_summaries_give_the_same_report(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, query: dict[str, str]
) -> None:
    await _world(harness)
    exact = await fetch_report(harness.admin, **query)
    monkeypatch.setattr(rstore, "EXACT_BELOW", 0)
    approx = await fetch_report(harness.admin, **query)
    _same(exact, approx)
    assert "2% wide" in approx["definitions"]["precision"]


async def test_late_acks_and_deliveries_reach_a_summarized_day(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _world(harness)
    monkeypatch.setattr(rstore, "EXACT_BELOW", 0)
    db = harness.server.exchange.db
    before = await fetch_report(harness.admin, group="cac-avsec", start=FROM, end=TO)
    tj = next(r for r in before["recipients"] if (r["party"], r["priority"]) == ("TJ", "immediate"))
    assert (tj["delivered"], tj["acknowledged"]) == (1, 0)
    # TJ fetches B2 (never delivered) now and acks B1, days after: both days are built
    seq2 = 1_000_002
    await db.run_write(lambda c: inbox_store.mark_delivered(c, {"TJ": [seq2]}, T0 + 30 * H))
    ack = {
        "bid": BIDS[1],
        "party": "TJ",
        "status": "received",
        "client_id": "TJ/ops",
        "iat": (T0 + 40 * H) // 1000,
        "received_at": T0 + 40 * H,
        "jws": "",
        "log_index": 0,
    }
    await db.run_write(lambda c: c.execute(insert(s.acks), ack))
    marked = await db.run_read(lambda c: set(c.execute(select(s.report_dirty.c.day)).scalars()))
    assert marked == {T0 // report_days.DAY_MS, T0 // report_days.DAY_MS + 1}
    after = await fetch_report(harness.admin, group="cac-avsec", start=FROM, end=TO)
    assert after["approximate"]
    tj = next(r for r in after["recipients"] if (r["party"], r["priority"]) == ("TJ", "immediate"))
    assert (tj["delivered"], tj["acknowledged"], tj["due"], tj["within_deadline"]) == (2, 1, 2, 0)
    assert _close(tj["times"]["received"]["median_s"], 40 * 3600.0)
    assert _close(tj["times"]["delivered"]["p90_s"], (T0 + 30 * H - (T0 + 86_400_000)) / 1000)
    monkeypatch.setattr(rstore, "EXACT_BELOW", 20_000)
    assert (
        _same(await fetch_report(harness.admin, group="cac-avsec", start=FROM, end=TO), after)
        is None
    )
    assert not await db.run_read(lambda c: list(c.execute(select(s.report_dirty.c.day))))


def test_histogram_percentiles_are_within_one_percent() -> None:
    rng = random.Random(14)
    for n in (1, 2, 3, 10, 11, 999, 5000):
        values = [int(rng.lognormvariate(11, 2.5)) for _ in range(n)]
        hists: dict[tuple[str, str], Any] = {}
        report_days.add_values(hists, "UZ", "flash", 1, values)
        (got,) = report_days.hist_percentiles(hists, ["delivered", "received", "read", "actioned"])
        v = sorted(values)
        lo, hi, p90 = report_days.percentile_ranks(n)
        assert got["metric"] == "received" and got["n"] == n
        median = (v[lo - 1] + v[hi - 1]) / 2
        for exact, approx in ((median, got["median_ms"]), (v[p90 - 1], got["p90_ms"])):
            assert abs(approx - exact) <= max(0.0101 * exact, 500), (n, exact, approx)
    assert report_days.percentile_ranks(10) == (5, 6, 9)
    assert report_days.percentile_ranks(11) == (6, 6, 10)
    assert list(report_days.bins_of(np.asarray([0, 999, 1000, 1020, 1021]))) == [0, 0, 1, 2, 2]
