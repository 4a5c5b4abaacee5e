"""A subscriber that stops reading its socket (PROTOCOL §7 stream): it must not delay
anyone else, the server drops it once its send times out, and it resumes by cursor."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import aiohttp
import pytest
from integration._flows import Collector, MakeHarness, eventually, threat

from exchange.config import Limits
from exchange.crypto.envelope import seal

FAST = Limits(rate_per_second=100_000.0, rate_burst=100_000)
BIG = 256 * 1024  # bytes of body per bulletin (an envelope of ~600 kB): 30 fill every buffer


async def test_slow_subscriber_does_not_delay_the_others(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await make_harness(limits=replace(FAST, ws_send_timeout=4.0))
    kz = (await h.enrol("KZ")).client
    slow = (await h.enrol("GE")).client
    fast = {p: (await h.enrol(p)).client for p in ("UZ", "AZ")}
    kz.log = None
    to = ["AZ", "GE", "UZ"]
    keys = (await kz.directory(refresh=True)).keys_for(to)
    hub = h.server.exchange.hub

    def big(i: int) -> str:
        b = threat("KZ", groups=[], to=to, tlp="red", title=f"Big {i}")
        b["body"] = {"summary": "x" * BIG}  # the server never reads the body
        return seal(b, kz.signer, keys)

    bulk = await asyncio.to_thread(lambda: [big(i) for i in range(30)])
    small = await asyncio.to_thread(
        lambda: [
            seal(threat("KZ", groups=[], to=to, tlp="red", title=f"Small {i}"), kz.signer, keys)
            for i in range(5)
        ]
    )

    async with aiohttp.ClientSession() as session:
        stuck = await session.ws_connect(
            h.url + "/v1/stream",
            params={"after": "0", "access_token": slow.token("GET", "/v1/stream")},
            max_msg_size=0,
        )
        address = stuck.get_extra_info("sockname")

        def held() -> bool:  # the server still holds the stuck one's socket
            return any(c.peername == address for c in h.server.runner.server.connections)

        await eventually(lambda: hub.connections == 1)
        assert held()
        streams = {p: Collector(c) for p, c in fast.items()}
        await eventually(lambda: hub.connections == 3)
        for envelope in bulk:  # ~18 MB to each subscriber
            await kz.post_envelope(envelope)
        # the others get every small bulletin promptly while the stuck one is still held
        for envelope in small:
            receipt = await kz.post_envelope(envelope)
            sent = time.monotonic()
            for p, s in streams.items():
                await s.until_bid(receipt.bid, timeout=10)
                delay = s.arrival[s.bids.index(receipt.bid)] - sent
                assert delay < 1.5, f"{p} waited {delay:.2f} s behind a stuck subscriber"
        assert held() and hub.connections == 3, "measured after the stuck one was let go"
        # once a send times out the server lets go of it: not only of the stream, also of
        # the socket and its send buffer, though the client still reads nothing
        await eventually(lambda: hub.connections == 2, timeout=15)
        await eventually(lambda: not held(), timeout=5)

        # it reads what reached it before the cut, then resumes from its last seq
        got = []
        while (msg := await stuck.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
            got.append(json.loads(msg.data))
        await stuck.close()
    everything = next(iter(streams.values())).bids
    assert len(everything) == len(bulk) + len(small)
    assert len(got) < len(bulk), "the stuck subscriber was not stuck"
    assert [m["bid"] for m in got] == everything[: len(got)]
    back = Collector(slow, after=got[-1]["seq"] if got else 0)
    await back.until(lambda: len(got) + len(back.bulletins) >= len(everything), timeout=30)
    assert [m["bid"] for m in got] + back.bids == everything
    for c in (*streams.values(), back):
        await c.stop()


@pytest.mark.parametrize("count", [3, 12])
async def test_shutdown_is_not_held_by_a_stuck_reader(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """With a few bulletins everything fits in the buffers and the stream is idle when
    the server stops; with more, its send is blocked. Either way the stop is prompt."""
    h = await make_harness(limits=replace(FAST, ws_send_timeout=1.0))
    kz = (await h.enrol("KZ")).client
    ge = (await h.enrol("GE")).client
    kz.log = None
    keys = (await kz.directory(refresh=True)).keys_for(["GE"])

    def big(i: int) -> str:
        b = threat("KZ", groups=[], to=["GE"], tlp="red", title=f"Big {i}")
        b["body"] = {"summary": "x" * BIG}
        return seal(b, kz.signer, keys)

    bulk = await asyncio.to_thread(lambda: [big(i) for i in range(count)])
    async with aiohttp.ClientSession() as session:
        stuck = await session.ws_connect(
            h.url + "/v1/stream",
            params={"after": "0", "access_token": ge.token("GET", "/v1/stream")},
        )
        await eventually(lambda: h.server.exchange.hub.connections == 1)
        for envelope in bulk:
            await kz.post_envelope(envelope)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await asyncio.wait_for(h.server.stop(), 10)
        assert time.monotonic() - started < 5
        await stuck.close()
