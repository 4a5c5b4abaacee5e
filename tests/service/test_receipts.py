"""Receipts signed after the admission commit (ADR 0019, exchange/service/receipts.py).

The streams get a bulletin before its receipt is signed; a receipt is answered only once
stored and is never replaced, so a bulletin committed without one (a crash between the
two commits, or a re-post while its first post is in flight) gets exactly one receipt,
whoever asks first; a signer that fails leaves the bulletin accepted and a clear 503."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from integration._flows import Collector, post_raw, seal_to, threat
from service.test_admission_batch import (  # the same autouse check: no unforeseen 500
    ErrorBudget,
    expect_problem,
    receipt_of,
    sealed,
    server_errors,
)
from sqlalchemy import Connection, select, update
from support import Harness

from exchange.store import bulletins as bstore
from exchange.store import schema as s

__all__ = ["server_errors"]


async def _stored_receipt(h: Harness, bid: str) -> str:
    def read(conn: Connection) -> str:
        q = select(s.bulletins.c.receipt).where(s.bulletins.c.bid == bid)
        return str(conn.execute(q).scalar_one())

    return await h.server.exchange.db.run_read(read)


async def _forget_receipt(h: Harness, bid: str) -> None:
    """What a crash between the admission commit and the receipt's commit leaves."""

    def forget(conn: Connection) -> None:
        conn.execute(update(s.bulletins).where(s.bulletins.c.bid == bid).values(receipt=""))

    await h.server.exchange.db.run_write(forget)


async def test_the_stream_has_the_bulletin_before_its_receipt_is_signed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    m = await h.cac(observer=False)
    listener = Collector(m["UZ"].client)
    receipts = h.server.exchange.receipts
    release = threading.Event()
    real_sign = receipts._sign

    def slow_sign(bodies: Any) -> dict[str, str]:
        assert release.wait(10), "the test never released the signer"
        return real_sign(bodies)

    monkeypatch.setattr(receipts, "_sign", slow_sign)
    post = await sealed(h, "KZ", threat("KZ", title="streamed first"))
    reply = asyncio.create_task(post_raw(h, m["KZ"].client, post.envelope))
    try:
        await listener.until_bid(post.bid)
        assert not reply.done()  # delivered while its receipt is still being signed
        assert await _stored_receipt(h, post.bid) == ""
    finally:
        release.set()
    status, body = await reply
    assert status == 201
    receipt = await receipt_of(m["KZ"].client, body, post)
    assert await _stored_receipt(h, post.bid) == body["receipt"]
    assert receipt.seq == listener.bulletins[-1]["seq"]
    await listener.stop()


async def test_a_bulletin_left_without_a_receipt_gets_exactly_one(harness: Harness) -> None:
    h = harness
    m = await h.cac(observer=False)
    kz = m["KZ"].client
    post = await sealed(h, "KZ", threat("KZ", title="crash between the commits"))
    status, first = await post_raw(h, kz, post.envelope)
    assert status == 201
    await _forget_receipt(h, post.bid)
    # The sender asks for it and re-posts at once: both get one and the same receipt.
    (status, again), own = await asyncio.gather(
        post_raw(h, kz, post.envelope), kz.request("GET", f"/v1/bulletins/{post.bid}")
    )
    assert status == 200
    await receipt_of(kz, again, post)
    assert own[1]["receipt"] == again["receipt"] == await _stored_receipt(h, post.bid)
    status, third = await post_raw(h, kz, post.envelope)
    assert (status, third) == (200, again)  # stored: never signed again
    # The receipt says what the first one said; only the signature may differ.
    assert first["receipt"].split(".")[1] == again["receipt"].split(".")[1]


async def test_a_stored_receipt_is_never_replaced(harness: Harness) -> None:
    h = harness
    m = await h.cac(observer=False)
    post = await sealed(h, "KZ", threat("KZ", title="stored once"))
    status, body = await post_raw(h, m["KZ"].client, post.envelope)
    assert status == 201
    stored = await h.server.exchange.db.run_write(
        lambda c: bstore.set_receipts(c, {post.bid: "a.forged.receipt"})
    )
    assert stored == {post.bid: body["receipt"]}
    assert await _stored_receipt(h, post.bid) == body["receipt"]


async def test_a_failing_signer_leaves_the_bulletin_accepted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, server_errors: ErrorBudget
) -> None:
    h = harness
    m = await h.cac(observer=False)
    listener = Collector(m["UZ"].client)
    receipts = h.server.exchange.receipts
    real_sign = receipts._sign

    def broken(bodies: Any) -> dict[str, str]:
        raise RuntimeError("the token went away")

    monkeypatch.setattr(receipts, "_sign", broken)
    post = await sealed(h, "KZ", threat("KZ", title="signer down"))
    reply = await post_raw(h, m["KZ"].client, post.envelope)
    problem = expect_problem(reply, 503, "unavailable")
    assert "post the same envelope again" in problem["detail"]
    server_errors.expected = 1  # the signer's failure is logged, once
    await listener.until_bid(post.bid)  # accepted, and delivered
    monkeypatch.setattr(receipts, "_sign", real_sign)
    status, body = await post_raw(h, m["KZ"].client, post.envelope)
    assert status == 200
    await receipt_of(m["KZ"].client, body, post)
    await listener.stop()


async def test_a_repost_sealed_again_is_a_conflict_even_before_the_receipt(
    harness: Harness,
) -> None:
    h = harness
    m = await h.cac(observer=False)
    kz = m["KZ"].client
    bulletin = threat("KZ", title="same bid, new bytes")
    post = await sealed(h, "KZ", bulletin)
    assert (await post_raw(h, kz, post.envelope))[0] == 201
    await _forget_receipt(h, post.bid)
    resealed = await seal_to(kz, bulletin, post.recipients)
    expect_problem(await post_raw(h, kz, resealed), 409, "conflict")
    assert await _stored_receipt(h, post.bid) == ""  # a conflict signs nothing
