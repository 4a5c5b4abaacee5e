"""The stream's own contract (PROTOCOL §7): heartbeats, refusals at the handshake as
problem+json, and a storage failure mid-stream that the SDK rides out by cursor."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from integration._flows import Collector, MakeHarness, threat
from support import Harness

from exchange.config import Limits
from exchange.errors import AuthError, Forbidden, StorageError
from exchange.store import inbox as inbox_store


async def test_heartbeats_when_idle_carry_the_cursor(make_harness: MakeHarness) -> None:
    # the poll wakes every stream far more often than a heartbeat is due
    h = await make_harness(limits=Limits(ws_heartbeat=0.5), poll_interval=0.1)
    kz = (await h.enrol("KZ")).client
    uz = (await h.enrol("UZ")).client
    receipt = await kz.post(threat("KZ", groups=[], to=["UZ"], tlp="red"))
    stream = Collector(uz, heartbeats=True)
    await stream.until(lambda: len(stream.of_kind("heartbeat")) >= 2, timeout=5)
    beat = stream.of_kind("heartbeat")[-1]
    assert set(beat) == {"kind", "at", "cursor"}
    assert beat["cursor"] == receipt.seq and beat["at"].endswith("Z")
    assert stream.bids == [receipt.bid]
    await stream.stop()


async def test_refusals_at_the_handshake(harness: Harness) -> None:
    kz = (await harness.enrol("KZ")).client
    poster = await harness.add_client("KZ", "feed", ("poster",))

    async def get(client: Any, query: str = "") -> tuple[int, Any]:
        return await harness.raw(
            "GET", "/v1/stream" + query, client_id=client.client_id, signer=client.signer
        )

    # harness.raw checks that every error answer is application/problem+json
    assert (await get(kz))[0] == 400  # not a WebSocket handshake
    for query in ("?after=-1", "?after=abc", "?min_priority=urgent", "?types=", "?types=x"):
        assert (await get(kz, query))[0] == 400, query
    assert (await get(poster))[0] == 403  # no reader role
    async with aiohttp.ClientSession() as s, s.get(harness.url + "/v1/stream") as r:
        assert r.status == 401 and r.content_type == "application/problem+json"

    with pytest.raises(Forbidden):
        async for _ in poster.stream(reconnect=False):
            pass
    await harness.admin.admin(
        "POST", f"/v1/admin/keys/{kz.signer.kid}/revoke"
    )  # a revoked client key
    with pytest.raises(AuthError):
        async for _ in kz.stream(reconnect=False):
            pass


async def test_storage_failure_mid_stream_is_ridden_out(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    kz = (await harness.enrol("KZ")).client
    uz = (await harness.enrol("UZ")).client
    first = await kz.post(threat("KZ", groups=[], to=["UZ"], tlp="red"))
    stream = Collector(uz)
    await stream.until_bid(first.bid)

    inbox = inbox_store.inbox_rows
    failures = [2]

    def flaky(*args: Any, **kw: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise StorageError("database unreachable")
        return inbox(*args, **kw)

    monkeypatch.setattr(inbox_store, "inbox_rows", flaky)
    # New bulletins come from memory on one node; make the stream read the database.
    harness.server.exchange.hub.wake_all()
    later = [await kz.post(threat("KZ", groups=[], to=["UZ"], tlp="red")) for _ in range(3)]
    await stream.until_bid(later[-1].bid, timeout=15)
    assert failures == [0], "the failure was not exercised"
    assert stream.bids == [first.bid, *(r.bid for r in later)]
    await stream.stop()
