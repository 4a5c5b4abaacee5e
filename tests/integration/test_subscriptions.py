"""Subscriptions (PROTOCOL §1, §5 ``@subscribers``, §7) and stream filters: a feed's
bulletin reaches exactly the members of the subscribed groups whose filter matches."""

from __future__ import annotations

from typing import Any

import pytest
from integration._flows import Collector, advisory, post_raw, seal_to, threat
from support import CAC, Harness, Member

from exchange.client import ExchangeClient
from exchange.errors import Forbidden, InputError

FEED = "TA-FEED"
CAC_ALL = frozenset(CAC) | {"ICAO"}
CASP = frozenset({"TM", "KZ", "AZ"})


async def two_groups(h: Harness) -> tuple[dict[str, Member], ExchangeClient]:
    """cac-avsec (KZ chair, ICAO observer), casp-avsec (TM chair; KZ and AZ in both),
    and an automated feed that belongs to neither."""
    m = await h.cac()
    await h.enrol("TM")
    await h.group("casp-avsec", {"TM": "chair", "KZ": "member", "AZ": "member"})
    feed = await h.enrol(FEED, kind="feed", roles=("poster",), encryption=False)
    return m, feed.client


async def subscribe(client: ExchangeClient, group: str, body: dict[str, Any]) -> int:
    status, _ = await client.request(
        "PUT", f"/v1/groups/{group}/subscriptions/{FEED}", json_body=body
    )
    return status


async def test_feed_reaches_matching_groups_once(harness: Harness) -> None:
    m, feed = await two_groups(harness)
    tm = harness.members["TM"].client
    kz = m["KZ"].client
    assert (
        await subscribe(
            kz, "cac-avsec", {"types": ["threat-assessment"], "min_priority": "priority"}
        )
        == 201
    )
    assert await subscribe(tm, "casp-avsec", {"types": None, "min_priority": "flash"}) == 201
    everyone = CAC_ALL | CASP
    streams = {p: Collector(harness.members[p].client) for p in everyone}

    cases = [
        (threat(FEED, groups=["@subscribers"], priority="immediate"), CAC_ALL),
        (advisory(FEED, groups=["@subscribers"], priority="flash"), CASP),
        (
            threat(FEED, groups=["@subscribers"], priority="flash", tlp="amber+strict"),
            (CAC_ALL | CASP) - {"ICAO"},
        ),
    ]
    posted: dict[str, dict[str, Any]] = {}
    expected: dict[str, list[str]] = {p: [] for p in everyone}
    for bulletin, audience in cases:
        receipt = await feed.post(bulletin)
        assert set(receipt.recipients) == audience, bulletin["type"]
        posted[receipt.bid] = bulletin
        for p in audience:
            expected[p].append(receipt.bid)
    # matching nobody: refused by the SDK, and by the server when sealed by hand
    nothing = advisory(FEED, groups=["@subscribers"], priority="routine")
    with pytest.raises(InputError):
        await feed.post(nothing)
    status, problem = await post_raw(harness, feed, await seal_to(feed, nothing, ["KZ"]))
    assert status == 400, problem

    for p in everyone:
        if expected[p]:
            await streams[p].until_bid(expected[p][-1])
        items, _ = await harness.members[p].client.inbox()
        assert [i["bid"] for i in items] == expected[p], p
        assert streams[p].bids == expected[p], p
        for item in items:
            opened = await harness.members[p].client.open(item["envelope"])
            assert opened.bulletin == posted[item["bid"]]
    for s in streams.values():
        await s.stop()


async def test_unsubscribing_stops_new_deliveries(harness: Harness) -> None:
    m, feed = await two_groups(harness)
    kz, tm = m["KZ"].client, harness.members["TM"].client
    assert await subscribe(kz, "cac-avsec", {"types": None, "min_priority": None}) == 201
    assert await subscribe(tm, "casp-avsec", {"types": None, "min_priority": None}) == 201
    # a second PUT replaces the filter (200)
    assert await subscribe(tm, "casp-avsec", {"types": ["threat-assessment"]}) == 200
    before = await feed.post(threat(FEED, groups=["@subscribers"]))
    assert set(before.recipients) == CAC_ALL | CASP

    await kz.request("DELETE", f"/v1/groups/cac-avsec/subscriptions/{FEED}")
    _, listed = await kz.request("GET", "/v1/groups/cac-avsec/subscriptions")
    assert listed["subscriptions"] == []
    after = await feed.post(threat(FEED, groups=["@subscribers"]))
    assert set(after.recipients) == CASP
    for p in CAC_ALL - CASP:
        items, _ = await m[p].client.inbox()
        assert [i["bid"] for i in items] == [before.bid], p
        # still readable, though the group no longer subscribes
        assert (await m[p].client.open(items[0]["envelope"])).bulletin["bid"] == before.bid
    await tm.request("DELETE", f"/v1/groups/casp-avsec/subscriptions/{FEED}")
    with pytest.raises(InputError):  # nobody subscribes any more
        await feed.post(threat(FEED, groups=["@subscribers"]))
    # an envelope sealed for the old audience is refused, nothing stored
    stale = threat(FEED, groups=["@subscribers"])
    status, problem = await post_raw(harness, feed, await seal_to(feed, stale, CASP))
    assert status == 400, problem


async def test_who_may_read_and_change_subscriptions(harness: Harness) -> None:
    m, feed = await two_groups(harness)
    kz, uz, icao = m["KZ"].client, m["UZ"].client, m["ICAO"].client
    tm = harness.members["TM"].client
    path = f"/v1/groups/cac-avsec/subscriptions/{FEED}"
    body = {"types": ["threat-assessment"], "min_priority": "immediate"}

    # a member who is not the chair, an observer, a non-member: 403 on change
    for client in (uz, icao, tm, feed):
        for method in ("PUT", "DELETE"):
            with pytest.raises(Forbidden):
                await client.request(method, path, json_body=body if method == "PUT" else None)
    assert await subscribe(kz, "cac-avsec", body) == 201
    # members of any role, and the operator, may read; a non-member may not
    want = [{"group": "cac-avsec", "source": FEED, **body}]
    for client in (kz, uz, icao, harness.admin):
        _, listed = await client.request("GET", "/v1/groups/cac-avsec/subscriptions")
        assert listed["subscriptions"] == want
    for client in (tm, feed):
        with pytest.raises(Forbidden):
            await client.request("GET", "/v1/groups/cac-avsec/subscriptions")
    # the operator may change them too
    await harness.admin.request("DELETE", path)
    _, listed = await uz.request("GET", "/v1/groups/cac-avsec/subscriptions")
    assert listed["subscriptions"] == []


async def test_a_feed_cannot_post_to_a_group_by_name(harness: Harness) -> None:
    m, feed = await two_groups(harness)
    await subscribe(m["KZ"].client, "cac-avsec", {"types": None, "min_priority": None})
    named = threat(FEED, groups=["cac-avsec"])
    with pytest.raises(Forbidden):
        await feed.post(named)
    status, problem = await post_raw(harness, feed, await seal_to(feed, named, CAC_ALL))
    assert status == 403 and problem["type"] == "urn:avsec:error:forbidden", problem
    # nor name a group next to @subscribers
    both = threat(FEED, groups=["@subscribers", "casp-avsec"])
    status, problem = await post_raw(harness, feed, await seal_to(feed, both, CAC_ALL | CASP))
    assert status == 403, problem
    for p in CAC_ALL | CASP:
        items, _ = await harness.members[p].client.inbox()
        assert items == [], p


async def test_stream_filters_shape_the_push_not_the_inbox(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    filtered = Collector(m["UZ"].client, min_priority="immediate", types=["threat-assessment"])
    by_type = Collector(m["GE"].client, types=["advisory", "security-measure"])
    unfiltered = Collector(m["AZ"].client)
    bulletins = [
        threat("KZ", priority="routine"),
        advisory("KZ", priority="flash"),
        threat("KZ", priority="flash"),
        threat("KZ", priority="priority"),
        advisory("KZ", priority="routine"),
        threat("KZ", priority="immediate"),
    ]
    bids = [(await kz.post(b)).bid for b in bulletins]
    await filtered.until_bid(bids[5])
    await by_type.until_bid(bids[4])
    await unfiltered.until_bid(bids[5])
    assert filtered.bids == [bids[2], bids[5]]
    assert by_type.bids == [bids[1], bids[4]]
    assert unfiltered.bids == bids
    for p in ("UZ", "GE", "AZ"):
        items, _ = await m[p].client.inbox()
        assert [i["bid"] for i in items] == bids, p
    # a filtered stream resumed from its last pushed seq does not get the skipped ones
    resumed = Collector(m["UZ"].client, after=filtered.bulletins[0]["seq"], types=["advisory"])
    await resumed.until_bid(bids[4])
    assert resumed.bids == [bids[4]]
    for c in (filtered, by_type, unfiltered, resumed):
        await c.stop()

    # filters outside the vocabulary are refused at the handshake
    for kw in ({"min_priority": "urgent"}, {"types": ["gossip"]}, {"types": ["advisory", "x"]}):
        with pytest.raises(InputError):
            async for _ in m["UZ"].client.stream(0, reconnect=False, **kw):
                pass
