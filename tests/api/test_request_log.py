"""Structured request logs and metrics: a request id per request, one JSON line per
request, route and status labels, and no token in any log line."""

from __future__ import annotations

import json
import logging

import aiohttp
from support import Harness

from exchange.logs import JsonFormatter


async def test_request_log_lines_and_metrics(harness: Harness, caplog) -> None:
    caplog.set_level(logging.INFO, logger="exchange.request")
    token = harness.admin.token("GET", "/v1/directory")
    async with aiohttp.ClientSession() as s:
        async with s.get(
            harness.url + "/v1/directory",
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "trace-12345678"},
        ) as r:
            assert r.status == 200
            assert r.headers["X-Request-Id"] == "trace-12345678"
        async with s.get(harness.url + "/v1/bulletins/nope") as r:
            assert r.status == 401
            assert len(r.headers["X-Request-Id"]) == 32
        async with s.get(harness.url + "/metrics") as r:
            text = await r.text()
    lines = [json.loads(JsonFormatter().format(rec)) for rec in caplog.records]
    ok = next(ln for ln in lines if ln["request_id"] == "trace-12345678")
    assert ok["route"] == "/v1/directory" and ok["status"] == 200
    assert ok["client"] == "OPERATOR/admin"
    denied = next(ln for ln in lines if ln.get("route") == "/v1/bulletins/{bid}")
    assert denied["status"] == 401 and denied["client"] == "-"
    assert all(token not in json.dumps(ln) for ln in lines)
    assert 'exchange_requests_total{route="/v1/directory",status="200"}' in text


async def test_metrics_cover_deliveries_and_database(harness: Harness) -> None:
    import time

    from exchange.bulletin.validate import new_bulletin

    m = await harness.cac(observer=False)
    b = new_bulletin(
        iss="KZ",
        type="advisory",
        title="t",
        body={"summary": "s"},
        now=int(time.time()),
        groups=["cac-avsec"],
    )
    await m["KZ"].client.post(b)
    async with aiohttp.ClientSession() as s, s.get(harness.url + "/metrics") as r:
        text = await r.text()
    assert "exchange_bulletins_accepted_total 1.0" in text
    assert "exchange_deliveries_pending 5.0" in text
    assert 'exchange_db_seconds_count{kind="write"}' in text
