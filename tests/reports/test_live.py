"""A report of real traffic: bulletins posted, fetched and acked through the API; the
first-ack times reach the report through the trigger of migration 0006_reports."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support import Harness

from exchange.bulletin.validate import new_bulletin
from exchange.client.reports import fetch_report


def _bulletin(iss: str, **kw: Any) -> dict[str, Any]:
    now = int(time.time())
    args: dict[str, Any] = {
        "iss": iss,
        "type": "advisory",
        "title": "<script>alert(1)</script> screening advisory",
        "body": {"summary": "Reinforced screening of cargo"},
        "now": now,
        "priority": "immediate",
        "tlp": "amber",
        "groups": ["cac-avsec"],
    }
    args.update(kw)
    return new_bulletin(**args)


async def test_acks_through_the_api_reach_the_report(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    receipt = await m["KZ"].client.post(_bulletin("KZ"))
    await m["UZ"].client.inbox()  # delivered
    await m["UZ"].client.ack(receipt.bid, "read")  # no 'received' first: read implies it
    await m["KG"].client.ack(receipt.bid, "received")
    await m["KG"].client.ack(receipt.bid, "actioned")
    await asyncio.sleep(0.5)  # delivered_at marks are written in batches (~0.2 s)
    rep = await fetch_report(m["KZ"].client, group="cac-avsec")
    rows = {(r["party"], r["priority"]): r for r in rep["recipients"]}
    uz, kg = rows[("UZ", "immediate")], rows[("KG", "immediate")]
    assert uz["delivered"] == 1 and uz["acknowledged"] == 1
    assert uz["times"]["received"]["n"] == uz["times"]["read"]["n"] == 1
    assert uz["times"]["received"]["median_s"] == uz["times"]["read"]["median_s"]
    assert uz["times"]["actioned"]["n"] == 0
    assert kg["times"]["actioned"]["n"] == 1 and kg["within_deadline"] == 1
    assert kg["times"]["received"]["median_s"] <= kg["times"]["actioned"]["median_s"]
    assert rows[("AZ", "immediate")]["acknowledged"] == 0
    assert rep["posted"] == [{"iss": "KZ", "type": "advisory", "priority": "immediate", "count": 1}]
