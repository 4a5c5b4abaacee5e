"""Webhooks end to end against a real receiving server on loopback: signed pushes that a
receiver verifies (the SDK, and an independent check), envelope and notification modes,
filters, ordering, retries, dead letters and redelivery, timeouts, delivery marks."""

from __future__ import annotations

import json
import time

import pytest
from alerts._independent import verify_independently
from alerts._kit import MakeHarness, Receiver, fast_alerts
from integration._flows import advisory, eventually, threat

from exchange.client import alerts as sdk
from exchange.errors import BadSignature, Forbidden, NotFound

SECRET = "Credible reporting of MANPADS"  # in the bulletin body: never in a push


async def test_push_is_signed_verified_and_opens(
    make_harness: MakeHarness, receiver: Receiver
) -> None:
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    uz = m["UZ"].client
    ep = await sdk.add_webhook(uz, "UZ", receiver.url, mode="envelope")
    assert ep["party"] == "UZ" and ep["mode"] == "envelope" and ep["kind"] == "webhook"

    receipt = await m["KZ"].client.post(threat("KZ", priority="flash"))
    await eventually(lambda: receiver.pushes, timeout=10)
    push = receiver.pushes[0]
    assert push.method == "POST"
    assert SECRET.encode() not in push.body
    payload = json.loads(push.body)
    assert payload["event"] == "bulletin" and payload["party"] == "UZ"
    assert payload["bulletin"]["bid"] == receipt.bid
    assert payload["bulletin"]["priority"] == "flash"
    assert payload["bulletin"]["sender"] == "KZ"

    key = await uz.server_key()
    verifier = sdk.PushVerifier(key)
    now = int(time.time())
    got = verifier.verify(push.method, receiver.url, push.headers, push.body, now=now)
    assert got.nonce == payload["id"] and not got.duplicate
    # the same push again is a repeat to drop
    again = verifier.verify(push.method, receiver.url, push.headers, push.body, now=now)
    assert again.duplicate
    params = verify_independently(push.method, receiver.url, push.headers, push.body, key.raw)
    assert params["keyid"] == key.kid and params["alg"] == "ed25519"
    assert params["nonce"] == payload["id"]

    # the receiver opens the sealed envelope with its own key: it is the bulletin
    opened = await uz.open(payload["envelope"])
    assert opened.bulletin["body"]["summary"].startswith(SECRET)

    # a successful envelope push marks the bulletin delivered to UZ
    async def delivered() -> bool:
        ledger = await m["KZ"].client.status(receipt.bid)
        row = next(r for r in ledger["recipients"] if r["party"] == "UZ")
        return row["delivered_at"] is not None

    await eventually(delivered, timeout=5)


@pytest.mark.parametrize(
    "where",
    ["body", "url", "method", "content-type", "signature"],
)
async def test_a_tampered_push_does_not_verify(
    make_harness: MakeHarness, receiver: Receiver, where: str
) -> None:
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    await m["KZ"].client.post(threat("KZ"))
    await eventually(lambda: receiver.pushes, timeout=10)
    p = receiver.pushes[0]
    method, url, headers, body = p.method, receiver.url, dict(p.headers), p.body
    if where == "body":
        body = body.replace(b'"immediate"', b'"flash"')
    elif where == "url":
        url = url.replace("/hook", "/other")
    elif where == "method":
        method = "PUT"
    elif where == "content-type":
        headers["Content-Type"] = "text/plain"
    else:
        sig = headers["Signature"]
        headers["Signature"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    verifier = sdk.PushVerifier(await m["UZ"].client.server_key())
    with pytest.raises(BadSignature):
        verifier.verify(method, url, headers, body, now=int(time.time()))
    # and too old a push is refused as well
    with pytest.raises(BadSignature):
        verifier.verify(p.method, receiver.url, p.headers, p.body, now=int(time.time()) + 3600)


async def test_notification_mode_and_filters(make_harness: MakeHarness, receiver: Receiver) -> None:
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    await sdk.add_webhook(
        m["GE"].client, "GE", receiver.url, types=["threat-assessment"], min_priority="immediate"
    )
    await m["KZ"].client.post(advisory("KZ"))  # wrong type
    await m["KZ"].client.post(threat("KZ", priority="routine"))  # not urgent enough
    wanted = await m["KZ"].client.post(threat("KZ", priority="immediate"))
    await eventually(lambda: receiver.pushes, timeout=10)
    await eventually(lambda: True, timeout=0.5)
    bids = [json.loads(p.body)["bulletin"]["bid"] for p in receiver.pushes]
    assert bids == [wanted.bid]
    payload = json.loads(receiver.pushes[0].body)
    assert "envelope" not in payload
    assert set(payload["bulletin"]) == {"bid", "sender", "type", "priority", "tlp", "seq"}


async def test_retries_then_dead_letter_then_redeliver_in_order(
    make_harness: MakeHarness, receiver: Receiver
) -> None:
    h = await make_harness(alerts=fast_alerts(max_attempts=3))
    m = await h.cac(observer=False)
    uz = m["UZ"].client
    ep = await sdk.add_webhook(uz, "UZ", receiver.url)
    receiver.answers = [500, 503, 502]  # three failures: the first push is dead-lettered
    first = await m["KZ"].client.post(threat("KZ"))
    second = await m["KZ"].client.post(threat("KZ"))

    async def dead() -> list[object]:
        return await sdk.deliveries(uz, ep["id"], "dead")

    rows = await eventually(dead, timeout=10)
    assert rows[0]["bid"] == first.bid and rows[0]["attempts"] == 3
    assert rows[0]["last_error"] == "HTTP 502"
    # ordering: the second waited for the first to be done or dead
    await eventually(lambda: len(receiver.pushes) >= 4, timeout=10)
    order = [json.loads(p.body)["bulletin"]["bid"] for p in receiver.pushes]
    assert order[:4] == [first.bid, first.bid, first.bid, second.bid]
    ids = {json.loads(p.body)["id"] for p in receiver.pushes[:3]}
    assert len(ids) == 1  # the same delivery id on every try

    assert await sdk.redeliver(uz, ep["id"]) == 1
    await eventually(lambda: len(receiver.pushes) >= 5, timeout=10)
    assert json.loads(receiver.pushes[4].body)["bulletin"]["bid"] == first.bid
    done = await sdk.deliveries(uz, ep["id"], "done")
    assert {d["bid"] for d in done} == {first.bid, second.bid}


async def test_a_hanging_endpoint_times_out_and_is_retried(
    make_harness: MakeHarness, receiver: Receiver
) -> None:
    h = await make_harness(alerts=fast_alerts(webhook_timeout=0.5, max_attempts=5))
    m = await h.cac(observer=False)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    receiver.answers = ["hang"]
    started = time.monotonic()
    await m["KZ"].client.post(threat("KZ"))

    async def done() -> list[object]:
        return await sdk.deliveries(m["UZ"].client, ep["id"], "done")

    rows = await eventually(done, timeout=10)
    assert rows[0]["attempts"] == 2 and len(receiver.pushes) == 2
    assert time.monotonic() - started < 8


async def test_only_own_party_or_admin_manages(
    make_harness: MakeHarness, receiver: Receiver
) -> None:
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    with pytest.raises(Forbidden):
        await sdk.add_webhook(m["KZ"].client, "UZ", receiver.url)
    poster_only = await h.add_client("UZ", "feed", ("poster",))
    with pytest.raises(Forbidden):  # of the party, but not a reader
        await sdk.add_webhook(poster_only, "UZ", receiver.url)
    ep = await sdk.add_webhook(h.admin, "UZ", receiver.url)  # the operator may
    assert [e["id"] for e in await sdk.list_endpoints(m["UZ"].client)] == [ep["id"]]
    assert await sdk.list_endpoints(m["KZ"].client) == []
    with pytest.raises(NotFound):  # another party's endpoint does not exist for KZ
        await sdk.remove_endpoint(m["KZ"].client, ep["id"])
    with pytest.raises(NotFound):
        await sdk.redeliver(m["KZ"].client, ep["id"])
    assert await sdk.remove_endpoint(m["UZ"].client, ep["id"]) == 0
    assert await sdk.list_endpoints(m["UZ"].client) == []
