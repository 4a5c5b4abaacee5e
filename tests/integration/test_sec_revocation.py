"""Issue 17, defect 3: revocation takes effect on open streams, on one node and on
another node that shares the database (and sees the revocation only through it).
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest
from integration._flows import Collector, MakeHarness, threat
from support import Harness

from exchange.client import ExchangeClient
from exchange.errors import AuthError
from exchange.node import open_exchange, start


async def _closed_within(col: Collector, seconds: float) -> BaseException | None:
    deadline = time.monotonic() + seconds
    while not col._task.done():
        assert time.monotonic() < deadline, "the revoked stream is still open"
        await asyncio.sleep(0.05)
    return col._task.exception()


async def _revoked_stream_gets_nothing_new(h: Harness, desk: ExchangeClient, url: str) -> None:
    """``desk`` streams from ``url``; its key is revoked on the harness's node."""
    m = h.members
    kz = m["KZ"].client
    reader = h.client(desk.client_id, desk.signer, m["UZ"].enc)  # type: ignore[arg-type]
    reader.server_url = url
    col = Collector(reader)
    before = await kz.post(threat("KZ"))
    await col.until_bid(before.bid)
    await h.admin.admin("POST", f"/v1/admin/keys/{desk.signer.kid}/revoke")
    after = [await kz.post(threat("KZ")) for _ in range(3)]
    exc = await _closed_within(col, 6.0)
    assert isinstance(exc, AuthError), exc  # reconnecting with the revoked key: 401
    assert not {r.bid for r in after} & set(col.bids), "a bulletin reached a revoked desk"
    # the party's other readers still get them
    assert {r.bid for r in after} <= {i["bid"] for i in (await m["UZ"].client.inbox())[0]}


@pytest.mark.parametrize("poll", [None, 0.2], ids=["memory", "database"])
async def test_revoked_desk_stream_closes_on_this_node(
    make_harness: MakeHarness, poll: float | None
) -> None:
    h = await make_harness(poll_interval=poll)
    await h.cac()
    desk = await h.add_client("UZ", "desk", ("reader",))
    await _revoked_stream_gets_nothing_new(h, desk, h.url)


async def test_revoked_desk_stream_closes_on_another_node(make_harness: MakeHarness) -> None:
    h = await make_harness(poll_interval=0.2)
    await h.cac()
    desk = await h.add_client("UZ", "desk", ("reader",))
    other = await open_exchange(h.server.exchange.config)
    node = await start(other)
    try:
        await _revoked_stream_gets_nothing_new(h, desk, node.url)
    finally:
        await node.stop()


async def test_idle_revoked_stream_is_closed_within_seconds(make_harness: MakeHarness) -> None:
    """No traffic at all after the revocation: the periodic re-check closes it."""
    h = await make_harness(poll_interval=0.2)
    await h.cac()
    desk = await h.add_client("UZ", "desk", ("reader",))
    other = await open_exchange(h.server.exchange.config)
    node = await start(other)
    try:
        reader = h.client(desk.client_id, desk.signer)  # type: ignore[arg-type]
        reader.server_url = node.url
        col = Collector(reader)
        await asyncio.sleep(0.5)
        await h.admin.admin("POST", f"/v1/admin/keys/{desk.signer.kid}/revoke")
        start_at = time.monotonic()
        exc = await _closed_within(col, 6.0)
        assert isinstance(exc, AuthError), exc
        assert time.monotonic() - start_at < 2 * h.server.exchange.limits.ws_recheck + 1
    finally:
        await node.stop()
