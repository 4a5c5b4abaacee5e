"""Issue 17, where the contract was silent: a delivery is marked only when the envelope
reaches a client that can open and ack it; stale bulletins are refused when first
posted; an amber+strict bulletin cannot name an observer back in. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from integration._flows import post_raw, seal_to, threat, tree_size
from support import CAC, Harness

GROUP = sorted(set(CAC) - {"KZ"} | {"ICAO"})


def _delivered(ledger: dict[str, Any], party: str) -> Any:
    return next(r for r in ledger["recipients"] if r["party"] == party)["delivered_at"]


async def test_head_and_poster_only_fetches_mark_nothing(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    feed = await harness.add_client("UZ", "feed", ("poster",))
    bid = (await kz.post(threat("KZ"))).bid
    for path in (f"/v1/bulletins/{bid}", "/v1/inbox?after=0", "/v1/stream?after=0"):
        status, problem = await harness.raw("HEAD", path, client_id=uz.client_id, signer=uz.signer)
        assert status == 405, (path, status, problem)
    # a poster-only client of a recipient party: no envelope, no mark
    status, problem = await harness.raw(
        "GET", f"/v1/bulletins/{bid}", client_id=feed.client_id, signer=feed.signer
    )
    assert status == 403 and problem["type"] == "urn:avsec:error:forbidden", problem
    status, _ = await harness.raw(
        "GET", "/v1/inbox?after=0", client_id=feed.client_id, signer=feed.signer
    )
    assert status == 403
    await harness.server.exchange.marker.flush()
    assert _delivered(await kz.status(bid), "UZ") is None
    # the sender's own poster-only client still reads its party's bulletin
    kz_feed = await harness.add_client("KZ", "feed", ("poster",))
    status, own = await harness.raw(
        "GET", f"/v1/bulletins/{bid}", client_id=kz_feed.client_id, signer=kz_feed.signer
    )
    assert status == 200 and own["bid"] == bid
    # a real GET by a reader marks it
    await uz.get(bid)
    await harness.server.exchange.marker.flush()
    assert _delivered(await kz.status(bid), "UZ") is not None


async def test_expired_or_long_past_bulletins_are_refused(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    past = harness.server.exchange.limits.past_iat
    now = int(time.time())
    size = await tree_size(harness)
    cases = {
        "already expired": threat("KZ", now=now - 600, exp=now - 1),
        "expires now": threat("KZ", now=now - 600, exp=now),
        "dated beyond past_iat": threat("KZ", now=now - past - 60),
        "dated 1970": threat("KZ", now=0),
    }
    for name, bulletin in cases.items():
        envelope = await seal_to(kz, bulletin, GROUP)
        status, problem = await post_raw(harness, kz, envelope)
        assert status == 400 and problem["type"] == "urn:avsec:error:invalid-request", (
            name,
            problem,
        )
        assert "expired" in problem["detail"] or "past" in problem["detail"], problem
    assert await tree_size(harness) == size
    # within the bounds: accepted, and a re-post of the same bytes keeps its receipt
    ok = await seal_to(kz, threat("KZ", now=now - past + 120, exp=now + 3600), GROUP)
    first = await post_raw(harness, kz, ok)
    again = await post_raw(harness, kz, ok)
    assert first[0] == 201 and again == (200, first[1])


async def test_amber_strict_cannot_name_an_observer_of_its_group(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    size = await tree_size(harness)
    bulletin = threat("KZ", tlp="amber+strict", groups=["cac-avsec"], to=["ICAO"])
    try:
        await kz.post(bulletin)
    except Exception as exc:  # the SDK refuses it before sealing, with the same rule
        assert "ICAO is an observer of cac-avsec" in str(exc), exc
    else:
        raise AssertionError("an amber+strict bulletin was sealed to an observer")
    assert await tree_size(harness) == size
    # on the wire too: sealed by hand to every party, the server refuses it
    envelope = await seal_to(kz, bulletin, GROUP)
    status, problem = await post_raw(harness, kz, envelope)
    assert status == 400 and "observer" in problem["detail"], problem
    assert await tree_size(harness) == size
    # named alone, to a party that observes no group the bulletin reaches: delivered
    receipt = await kz.post(threat("KZ", tlp="amber+strict", groups=[], to=["ICAO"]))
    assert (await m["ICAO"].client.get(receipt.bid))["bid"] == receipt.bid
