"""Acks, the sender's delivery ledger and escalations (PROTOCOL §7)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from integration._flows import (
    Collector,
    MakeHarness,
    ack_token,
    advisory,
    eventually,
    post_ack,
    threat,
    tree_size,
)
from support import CAC, Harness

from exchange.client.audit import LogMonitor
from exchange.crypto import b64u_decode, jws

GROUP = frozenset(CAC) | {"ICAO"}


def at(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def by_party(ledger: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["party"]: r for r in ledger["recipients"]}


async def test_a_caught_up_backlog_is_marked_for_that_party_only(harness: Harness) -> None:
    """A stream's backlog page is marked delivered as one range of its party's seqs:
    every item of the page, and nothing of another party in the same seq range."""
    m = await harness.cac()
    kz = m["KZ"].client
    both = [await kz.post(threat("KZ", groups=[], to=["GE", "UZ"], tlp="red")) for _ in range(3)]
    uz_only = [await kz.post(threat("KZ", groups=[], to=["UZ"], tlp="red")) for _ in range(2)]
    ge_only = [await kz.post(threat("KZ", groups=[], to=["GE"], tlp="red")) for _ in range(2)]
    ge = Collector(m["GE"].client)
    await ge.until_bid(ge_only[-1].bid)
    await harness.server.exchange.marker.flush()
    for r in both + ge_only:
        ledger = by_party(await kz.status(r.bid))
        assert ledger["GE"]["delivered_at"] is not None, r.bid
        if "UZ" in ledger:
            assert ledger["UZ"]["delivered_at"] is None, r.bid
    for r in uz_only:
        assert by_party(await kz.status(r.bid))["UZ"]["delivered_at"] is None
    await ge.stop()


async def test_delivered_at_on_first_push_or_fetch(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    pushed = Collector(m["GE"].client)
    filtered = Collector(m["KG"].client, types=["advisory"])  # never pushed the threat
    receipt = await kz.post(threat("KZ"))
    before = by_party(await kz.status(receipt.bid))
    assert set(before) == GROUP - {"KZ"}
    assert all(r["acks"] == [] for r in before.values())
    for party in GROUP - {"KZ", "GE"}:  # GE's stream may have had it pushed already
        assert before[party]["delivered_at"] is None, party

    await pushed.until_bid(receipt.bid)
    await m["UZ"].client.inbox()
    await m["AZ"].client.get(receipt.bid)
    await kz.get(receipt.bid)  # the sender reading its own copy delivers nothing

    async def marked() -> dict[str, Any] | None:
        led = by_party(await kz.status(receipt.bid))
        return led if all(led[p]["delivered_at"] for p in ("GE", "UZ", "AZ")) else None

    ledger = await eventually(marked, timeout=3)
    for party in ("KG", "TJ", "ICAO"):
        assert ledger[party]["delivered_at"] is None, party
    accepted = at((await kz.status(receipt.bid))["accepted_at"])
    for party in ("GE", "UZ", "AZ"):
        assert at(ledger[party]["delivered_at"]) >= accepted
    # a later fetch does not move it
    first = {p: ledger[p]["delivered_at"] for p in ("GE", "UZ", "AZ")}
    await m["UZ"].client.inbox()
    await m["AZ"].client.get(receipt.bid)
    await harness.server.exchange.marker.flush()
    again = by_party(await kz.status(receipt.bid))
    assert {p: again[p]["delivered_at"] for p in first} == first
    await pushed.stop()
    await filtered.stop()


async def test_acks_are_signed_idempotent_and_in_the_ledger(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    receipt = await kz.post(threat("KZ"))
    views = [await uz.ack(receipt.bid, s) for s in ("received", "read", "actioned")]
    for view, status in zip(views, ("received", "read", "actioned"), strict=True):
        assert view["bid"] == receipt.bid and view["party"] == "UZ"
        assert view["status"] == status and view["client"] == "UZ/ops"
        header = json.loads(b64u_decode(view["jws"].split(".")[0]))
        assert header == {"alg": "EdDSA", "kid": uz.signer.kid, "typ": "avsec-ack+jws"}
        payload = json.loads(b64u_decode(view["jws"].split(".")[1]))
        assert set(payload) == {"bid", "party", "status", "iat"}
        # the sender's party opens the committed leaf (issue 17, leaf privacy)
        leaf = await LogMonitor(kz).opened_entry(view["log_index"])
        assert (leaf["kind"], leaf["bid"], leaf["status"]) == ("ack", receipt.bid, status)

    size = await tree_size(harness)
    # the same token again, or a new token for a status already acked: 200, one record
    status, again = await post_ack(harness, uz, receipt.bid, views[1]["jws"])
    assert status == 200 and again == views[1]
    fresh = ack_token(
        uz.signer,
        {"bid": receipt.bid, "party": "UZ", "status": "read", "iat": int(time.time()) + 1},
    )
    status, again = await post_ack(harness, uz, receipt.bid, fresh)
    assert status == 200 and again == views[1]
    assert await tree_size(harness) == size

    ledger = await kz.status(receipt.bid)
    assert ledger["bid"] == receipt.bid and ledger["iss"] == "KZ"
    uz_row = by_party(ledger)["UZ"]
    assert [(a["status"], a["at"]) for a in uz_row["acks"]] == [
        (v["status"], v["at"]) for v in views
    ]
    assert all(r["acks"] == [] for p, r in by_party(ledger).items() if p != "UZ")
    # an ack counts as a delivery
    await harness.server.exchange.marker.flush()
    assert by_party(await kz.status(receipt.bid))["UZ"]["delivered_at"] is not None


async def test_bad_acks_are_rejected(harness: Harness) -> None:
    m = await harness.cac()
    tm = await harness.enrol("TM")
    desk = await harness.add_client("UZ", "desk", ("reader",))
    uz_poster = await harness.add_client("UZ", "feed", ("poster",))
    kz, uz, ge = m["KZ"].client, m["UZ"].client, m["GE"].client
    receipt = await kz.post(threat("KZ"))
    strict = await m["AZ"].client.post(threat("AZ", tlp="amber+strict"))
    bid = receipt.bid
    now = int(time.time())

    def claims(**kw: Any) -> dict[str, Any]:
        return {"bid": bid, "party": "UZ", "status": "read", "iat": now, **kw}

    size = await tree_size(harness)
    cases: list[tuple[str, Any, str, str, int]] = [
        ("another party's ack", uz, bid, ack_token(uz.signer, claims(party="GE")), 403),
        ("signed by another party's key", uz, bid, ack_token(ge.signer, claims()), 400),
        ("signed by another client's key", uz, bid, ack_token(desk.signer, claims()), 400),
        ("wrong typ", uz, bid, ack_token(uz.signer, claims(), jws.TYP_RECEIPT), 400),
        ("envelope typ", uz, bid, ack_token(uz.signer, claims(), jws.TYP_ENVELOPE), 400),
        ("another bid", uz, bid, ack_token(uz.signer, claims(bid=strict.bid)), 400),
        ("unknown status", uz, bid, ack_token(uz.signer, claims(status="seen")), 400),
        ("extra member", uz, bid, ack_token(uz.signer, claims(note="x")), 400),
        ("iat in the future", uz, bid, ack_token(uz.signer, claims(iat=now + 3600)), 400),
        ("iat a string", uz, bid, ack_token(uz.signer, claims(iat=str(now))), 400),
        ("not delivered: observer", m["ICAO"].client, strict.bid, "x", 404),
        ("not delivered: outsider", tm.client, bid, "x", 404),
        ("not delivered: the sender", kz, bid, "x", 404),
        ("no reader role", uz_poster, bid, ack_token(uz_poster.signer, claims()), 403),
    ]
    for name, client, target, token, expected in cases:
        if token == "x":
            party = client.party
            token = ack_token(client.signer, claims(bid=target, party=party))
        status, problem = await post_ack(harness, client, target, token)
        assert status == expected, (name, problem)
        assert problem["type"].startswith("urn:avsec:error:"), name
    # not a JWS at all, or not sent as application/jose
    status, _ = await post_ack(harness, uz, bid, "not.a.jws")
    assert status == 400
    status, _ = await harness.raw(
        "POST",
        f"/v1/bulletins/{bid}/acks",
        client_id=uz.client_id,
        signer=uz.signer,
        body=ack_token(uz.signer, claims()).encode(),
        content_type="application/json",
    )
    assert status == 415
    assert await tree_size(harness) == size
    assert all(r["acks"] == [] for r in (await kz.status(bid))["recipients"])
    assert all(r["acks"] == [] for r in (await m["AZ"].client.status(strict.bid))["recipients"])


async def test_overdue_recipients_are_escalated_to_the_sender(
    make_harness: MakeHarness,
) -> None:
    deadlines = {"flash": 1, "immediate": 1, "priority": 3600, "routine": 3600}
    h = await make_harness(ack_deadlines=deadlines, escalation_interval=0.2)
    m = await h.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    sender = Collector(kz)
    recipient = Collector(uz)
    await eventually(lambda: h.server.exchange.hub.connections == 2)
    receipt = await kz.post(threat("KZ"))  # immediate: due in 1 s
    calm = await kz.post(advisory("KZ"))  # routine: due in an hour
    await uz.ack(receipt.bid, "received")
    late = sorted(GROUP - {"KZ", "UZ"})

    await sender.until(lambda: len(sender.of_kind("escalation")) >= len(late), timeout=5)
    ledger = by_party(await kz.status(receipt.bid))
    # more rounds of the escalation job: nothing is escalated twice
    seen = len(sender.messages)
    await asyncio.sleep(0.6)
    assert len(sender.messages) == seen
    escalations = sender.of_kind("escalation")
    assert sorted(e["party"] for e in escalations) == late
    for e in escalations:
        assert set(e) == {"kind", "bid", "party", "priority", "deadline"}
        assert e["bid"] == receipt.bid and e["priority"] == "immediate"
        assert e["deadline"] == ledger[e["party"]]["deadline"]
    assert recipient.of_kind("escalation") == []
    for party in late:
        assert ledger[party]["overdue"] is True, party
    assert ledger["UZ"]["overdue"] is False
    assert all(not r["overdue"] for r in (await kz.status(calm.bid))["recipients"])
    await sender.stop()
    await recipient.stop()


async def test_concurrent_acks_make_one_record(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, uz = m["KZ"].client, m["UZ"].client
    receipt = await kz.post(threat("KZ"))
    size = await tree_size(harness)
    tokens = [
        ack_token(uz.signer, {"bid": receipt.bid, "party": "UZ", "status": "read", "iat": i})
        for i in range(int(time.time()) - 30, int(time.time()))
    ]
    answers = await asyncio.gather(*(post_ack(harness, uz, receipt.bid, t) for t in tokens))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (len(tokens) - 1) + [201], statuses
    records = {json.dumps(body, sort_keys=True) for _, body in answers}
    assert len(records) == 1, "every answer is the one stored record"
    assert await tree_size(harness) == size + 1, "one log entry per stored ack"
    (row,) = [r for r in (await kz.status(receipt.bid))["recipients"] if r["party"] == "UZ"]
    assert len(row["acks"]) == 1 and row["acks"][0]["jws"] == json.loads(records.pop())["jws"]
