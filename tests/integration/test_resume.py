"""Cursors (PROTOCOL §7): a reader that resumes from the last ``seq`` it saw gets every
later bulletin once and in order, by stream and by inbox page, while posts go on."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from integration._flows import Collector, MakeHarness, threat
from support import Harness

from exchange.api.app_keys import SOCKETS
from exchange.client import ExchangeClient
from exchange.config import Limits
from exchange.crypto.envelope import seal

#: one client posts hundreds of bulletins here; the rate limit is not under test
FAST = Limits(rate_per_second=100_000.0, rate_burst=100_000)


async def preseal(client: ExchangeClient, n: int, to: list[str]) -> list[str]:
    """``n`` red bulletins to ``to``, sealed off the event loop."""
    d = await client.directory(refresh=True)
    keys = d.keys_for(to)
    template = threat(client.party, groups=[], to=to, tlp="red")  # validated once
    bulletins = [{**template, "bid": str(uuid.uuid4()), "title": f"Bulletin {i}"} for i in range(n)]
    return await asyncio.to_thread(lambda: [seal(b, client.signer, keys) for b in bulletins])


async def post_all(client: ExchangeClient, envelopes: list[str], in_flight: int) -> list[Any]:
    """Post every envelope with ``in_flight`` requests outstanding at any time."""
    gate = asyncio.Semaphore(in_flight)

    async def one(envelope: str) -> Any:
        async with gate:
            return await client.post_envelope(envelope)

    return list(await asyncio.gather(*(one(e) for e in envelopes)))


async def drop_streams(h: Harness) -> int:
    """Close every open stream from the server side, as a restart or a proxy would."""
    sockets = list(h.server.runner.app[SOCKETS])
    for ws in sockets:
        await ws.close(message=b"test: dropped")
    return len(sockets)


@pytest.mark.slow
async def test_thousand_bulletins_resume_by_cursor(make_harness: MakeHarness) -> None:
    h = await make_harness(limits=FAST)
    kz = (await h.enrol("KZ")).client
    uz = (await h.enrol("UZ")).client
    ge = (await h.enrol("GE")).client
    kz.log = None  # the receipts' log proofs are tested elsewhere; here only cursors
    n = 1000
    envelopes = await preseal(kz, n + 2, ["GE", "UZ"])
    bulk, closing = envelopes[1 : n + 1], envelopes[n + 1]

    # UZ reads one bulletin, remembers its cursor, and goes away
    first = await kz.post_envelope(envelopes[0])
    away = Collector(uz)
    await away.until_bid(first.bid)
    cursor = away.bulletins[-1]["seq"]
    await away.stop()
    # GE stays connected, but the server drops its stream again and again: the SDK
    # reconnects from the last seq it saw
    ge_stream = Collector(ge)
    await ge_stream.until_bid(first.bid)

    drops = 0

    async def dropper() -> None:
        nonlocal drops
        while True:
            await asyncio.sleep(0.5)
            drops += await drop_streams(h)

    drop_task = asyncio.create_task(dropper())
    receipts = await post_all(kz, bulk, in_flight=4)
    expected = [r.bid for r in sorted(receipts, key=lambda r: r.seq)]
    assert len(set(expected)) == n
    await ge_stream.until(lambda: len(ge_stream.bulletins) >= n + 1, timeout=30)
    drop_task.cancel()
    assert drops >= 2, "the stream was never dropped while posting"

    back = Collector(uz, after=cursor)
    await back.until(lambda: len(back.bulletins) >= n, timeout=30)
    # a last one: anything repeated would have come before it
    last = await kz.post_envelope(closing)
    expected.append(last.bid)
    await back.until_bid(last.bid)
    await ge_stream.until_bid(last.bid)
    for stream, want in ((back, expected), (ge_stream, [first.bid, *expected])):
        seqs = [m["seq"] for m in stream.bulletins]
        assert seqs == sorted(set(seqs)), "a seq repeated or out of order"
        assert stream.bids == want
    await back.stop()
    await ge_stream.stop()


async def test_inbox_pages_while_posting(make_harness: MakeHarness) -> None:
    h = await make_harness(limits=FAST)
    kz = (await h.enrol("KZ")).client
    uz = (await h.enrol("UZ")).client
    kz.log = None
    envelopes = await preseal(kz, 60, ["UZ"])
    posting = asyncio.create_task(post_all(kz, envelopes, in_flight=3))

    seen: list[dict[str, Any]] = []
    after, pages, pages_while_posting = 0, 0, 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = posting.done()
        items, nxt = await uz.inbox(after=after, limit=7)
        pages += 1
        pages_while_posting += not done
        assert len(items) <= 7
        assert nxt == (items[-1]["seq"] if items else after)
        seen += items
        after = nxt
        if done and not items:
            break
    receipts = posting.result()
    assert pages_while_posting > 2, "the pages did not interleave with the posts"
    seqs = [i["seq"] for i in seen]
    assert seqs == sorted(set(seqs)), "a page skipped back or repeated"
    assert [i["bid"] for i in seen] == [r.bid for r in sorted(receipts, key=lambda r: r.seq)]
    # the cursor is exclusive and stable: the same page twice is the same page
    again, _ = await uz.inbox(after=seen[10]["seq"], limit=5)
    assert again == seen[11:16]


async def test_pages_bounded_in_bytes_skip_nothing(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page (inbox or stream read) holds at most Limits.page_bytes of envelopes, so that a
    page of large bulletins cannot take the server's memory; it still skips nothing."""
    h = await make_harness(limits=FAST)
    kz = (await h.enrol("KZ")).client
    uz = (await h.enrol("UZ")).client
    kz.log = None
    envelopes = await preseal(kz, 11, ["UZ"])
    receipts = await post_all(kz, envelopes, in_flight=1)
    size = len(envelopes[0])
    ex = h.server.exchange

    def page_bytes(n: int) -> None:  # the inbox's and the stream's limits
        for service in (ex.delivery, ex.streams):
            monkeypatch.setattr(service, "limits", replace(service.limits, page_bytes=n))

    page_bytes(3 * size + size // 2)

    items, nxt = await uz.inbox(after=0, limit=100)
    assert [i["seq"] for i in items] == [r.seq for r in receipts[:3]] and nxt == receipts[2].seq
    seen, after = [], 0
    while True:
        items, after = await uz.inbox(after=after, limit=100)
        if not items:
            break
        assert len(items) <= 3
        seen += [i["bid"] for i in items]
    assert seen == [r.bid for r in receipts]
    page_bytes(1)  # an item always fits
    assert [i["bid"] for i in (await uz.inbox(limit=100))[0]] == [receipts[0].bid]

    stream = Collector(uz)
    await stream.until_bid(receipts[-1].bid)
    assert stream.bids == [r.bid for r in receipts]
    await stream.stop()
