"""Posting and delivery against a real server (PROTOCOL §3, §5, §7): who receives what,
over the stream and in the inbox, and every refusal at admission."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

import pytest
from integration._flows import (
    Collector,
    eventually,
    post_raw,
    seal_to,
    tamper,
    threat,
    tree_size,
)
from support import CAC, Harness

from exchange.client.audit import LogMonitor
from exchange.crypto import b64u_decode, b64u_encode, jws
from exchange.crypto.keys import EncryptionPrivateKey
from exchange.errors import Forbidden, InputError, NotFound

GROUP = frozenset(CAC) | {"ICAO"}
RECEIPT_FIELDS = {"bid", "seq", "iss", "recipients", "envelope_sha256", "accepted_at", "log_index"}


def others(*excluded: str, observer: bool = True) -> list[str]:
    pool = GROUP if observer else frozenset(CAC)
    return sorted(pool - set(excluded))


async def nothing_stored(h: Harness, size_before: int, bid: str, sender: Any) -> None:
    """No audit leaf and no bulletin under ``bid`` (its deliveries are stored with it,
    in one transaction); and the last inbox page of one group member does not hold it."""
    assert await tree_size(h) == size_before
    with pytest.raises(NotFound):
        await sender.get(bid)
    items, _ = await h.members["UZ"].client.inbox()
    assert bid not in [i["bid"] for i in items]


async def test_everyone_entitled_receives_once_by_stream_and_inbox(harness: Harness) -> None:
    m = await harness.cac()
    streams = {p: Collector(m[p].client) for p in GROUP}
    await eventually(lambda: harness.server.exchange.hub.connections == len(GROUP))
    posted: dict[str, dict[str, Any]] = {}
    sent: list[tuple[str, set[str]]] = []

    async def post(party: str, bulletin: dict[str, Any]) -> None:
        receipt = await m[party].client.post(bulletin)
        assert receipt.created and receipt.iss == party
        posted[receipt.bid] = bulletin
        sent.append((receipt.bid, set(receipt.recipients)))

    await post("KZ", threat("KZ"))
    await post("UZ", threat("UZ", tlp="amber+strict", title="Insider threat, cargo UTTT"))
    await post("GE", threat("GE", tlp="clear", priority="routine"))
    assert sent[0][1] == set(others("KZ"))
    assert sent[1][1] == set(others("UZ", "ICAO")), "amber+strict leaves the observer out"
    # A last bulletin to everyone: once it arrives, each stream has re-read its inbox
    # after every earlier item, so a repeat would already show.
    await post("AZ", threat("AZ", groups=[], to=others("AZ"), tlp="red"))

    for party in GROUP:
        expected = [bid for bid, recipients in sent if party in recipients]
        await streams[party].until_bid(expected[-1])
        assert streams[party].bids == expected, party
        items, nxt = await m[party].client.inbox()
        assert [i["bid"] for i in items] == expected, party
        assert nxt == items[-1]["seq"]
        assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
        for item, pushed in zip(items, streams[party].bulletins, strict=True):
            assert pushed == {"kind": "bulletin", **item}
            opened = await m[party].client.open(item["envelope"])
            assert opened.bulletin == posted[item["bid"]]
            assert opened.metadata["iss"] == item["iss"]
    assert "ICAO" not in [p for bid, r in sent for p in r if bid == sent[1][0]]
    for s in streams.values():
        await s.stop()


async def test_red_goes_to_named_parties_only(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    receipt = await kz.post(threat("KZ", groups=[], to=["UZ", "GE"], tlp="red"))
    assert sorted(receipt.recipients) == ["GE", "UZ"]
    for party in GROUP - {"KZ"}:
        items, _ = await m[party].client.inbox()
        assert ([i["bid"] for i in items] == [receipt.bid]) == (party in ("UZ", "GE")), party

    # red with groups: refused by the server even when sealed to the whole group
    bad = threat("KZ")
    bad["tlp"] = "red"
    envelope = await seal_to(kz, bad, others("KZ"))
    size = await tree_size(harness)
    status, problem = await post_raw(harness, kz, envelope)
    assert status == 400, problem
    assert problem["type"] in (
        "urn:avsec:error:invalid-request",
        "urn:avsec:error:invalid-bulletin",
    )
    await nothing_stored(harness, size, bad["bid"], kz)


async def test_only_posting_members_and_posters_may_post(harness: Harness) -> None:
    m = await harness.cac()
    tm = await harness.enrol("TM")
    desk = await harness.add_client("UZ", "desk", ("reader",))
    size = await tree_size(harness)

    # a party outside the group, sealing to the group's keys itself
    b = threat("TM")
    status, problem = await post_raw(harness, tm.client, await seal_to(tm.client, b, others()))
    assert status == 403 and problem["type"] == "urn:avsec:error:forbidden", problem
    # the SDK refuses before sending
    with pytest.raises(Forbidden):
        await tm.client.post(threat("TM"))
    # an observer may not post to the group either
    icao = m["ICAO"].client
    ob = threat("ICAO")
    status, problem = await post_raw(harness, icao, await seal_to(icao, ob, others("ICAO")))
    assert status == 403, problem

    # a reader-only client of a member party
    ub = threat("UZ")
    by_poster = await seal_to(m["UZ"].client, ub, others("UZ"))
    status, problem = await post_raw(harness, desk, by_poster)
    assert status == 403 and problem["type"] == "urn:avsec:error:forbidden", problem
    # ... nor can a poster post what a reader-only key signed
    by_reader = await seal_to(m["UZ"].client, threat("UZ"), others("UZ"), signer=desk.signer)
    status, problem = await post_raw(harness, m["UZ"].client, by_reader)
    assert status == 403, problem

    await nothing_stored(harness, size, b["bid"], tm.client)
    await nothing_stored(harness, size, ub["bid"], m["UZ"].client)


async def test_another_party_learns_nothing(harness: Harness) -> None:
    m = await harness.cac()
    tm = await harness.enrol("TM")
    outsider = tm.client
    stream = Collector(outsider)
    kz = m["KZ"].client
    receipt = await kz.post(threat("KZ"))
    missing = str(uuid.uuid4())

    async def problem(client: Any, method: str, path: str, **kw: Any) -> dict[str, Any]:
        status, body = await harness.raw(
            method, path, client_id=client.client_id, signer=client.signer, **kw
        )
        assert status == 404, (path, status, body)
        assert body["type"] == "urn:avsec:error:not-found"
        return dict(body)

    for bid in (receipt.bid, missing):
        # the same answer whether or not the bulletin exists: no oracle
        got = await problem(outsider, "GET", f"/v1/bulletins/{bid}")
        assert got == await problem(outsider, "GET", f"/v1/bulletins/{missing}")
        await problem(outsider, "GET", f"/v1/bulletins/{bid}/status")
    with pytest.raises(NotFound):
        await outsider.ack(receipt.bid, "received")
    items, nxt = await outsider.inbox()
    assert items == [] and nxt == 0

    # a recipient may read the bulletin but not the sender's ledger
    assert (await m["UZ"].client.get(receipt.bid))["bid"] == receipt.bid
    await problem(m["UZ"].client, "GET", f"/v1/bulletins/{receipt.bid}/status")
    # another client of the sender's party, and the operator, may
    kz_desk = await harness.add_client("KZ", "desk", ("reader",))
    assert (await kz_desk.status(receipt.bid))["bid"] == receipt.bid
    assert (await harness.admin.status(receipt.bid))["bid"] == receipt.bid

    # the outsider's stream stays silent until something is really for it
    mine = await kz.post(threat("KZ", groups=[], to=["TM"], tlp="red"))
    await stream.until_bid(mine.bid)
    assert stream.bids == [mine.bid]
    await stream.stop()


async def test_member_removed_mid_way(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    await kz.directory()  # the SDK now holds a directory that still lists TJ
    tj_stream = Collector(m["TJ"].client)
    first = await kz.post(threat("KZ"))
    assert "TJ" in first.recipients
    await tj_stream.until_bid(first.bid)

    b = threat("KZ", title="Second assessment")
    stale = await seal_to(kz, b, others("KZ"), refresh=False)
    await harness.admin.admin("DELETE", "/v1/admin/groups/cac-avsec/members/TJ")
    size = await tree_size(harness)

    status, problem = await post_raw(harness, kz, stale)
    assert status == 422, problem
    assert problem["type"] == "urn:avsec:error:recipient-mismatch"
    expected = sorted(m[p].enc.kid for p in others("KZ", "TJ"))  # type: ignore[union-attr]
    assert problem["expected_kids"] == expected
    await nothing_stored(harness, size, b["bid"], kz)

    # the SDK re-seals once, to the fresh directory, and the same bid is then accepted
    attempts: list[str] = []
    post_envelope = kz.post_envelope

    async def spy(envelope: str) -> Any:
        try:
            receipt = await post_envelope(envelope)
        except Exception as exc:
            attempts.append(type(exc).__name__)
            raise
        attempts.append("created" if receipt.created else "repost")
        return receipt

    kz.post_envelope = spy  # type: ignore[method-assign]
    receipt = await kz.post(b)
    assert attempts == ["RecipientMismatch", "created"]
    assert sorted(receipt.recipients) == others("KZ", "TJ")

    # TJ receives nothing new; its next item is one addressed to it by name
    with pytest.raises(NotFound):
        await m["TJ"].client.get(b["bid"])
    # what TJ was sent while a member it can still open, though today's directory no
    # longer puts it in the audience (the SDK falls back to the logged recipients)
    old = await m["TJ"].client.open(tj_stream.bulletins[0]["envelope"])
    assert old.bulletin["bid"] == first.bid
    named = await m["UZ"].client.post(threat("UZ", groups=[], to=["TJ"], tlp="red"))
    await tj_stream.until_bid(named.bid)
    assert tj_stream.bids == [first.bid, named.bid]
    items, _ = await m["TJ"].client.inbox()
    assert [i["bid"] for i in items] == [first.bid, named.bid]
    # the remaining members got it
    for party in others("KZ", "TJ"):
        items, _ = await m[party].client.inbox(after=first.seq)
        assert items[0]["bid"] == b["bid"], party
    await tj_stream.stop()


async def test_retired_or_revoked_key_is_refused(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    members = others("KZ", observer=False)

    # UZ rotates: its old key is retired
    b1 = threat("KZ")
    stale = await seal_to(kz, b1, members)
    fresh_uz = EncryptionPrivateKey.generate()
    await harness.admin.admin(
        "POST", "/v1/admin/parties/UZ/encryption-keys", {"jwk": fresh_uz.public.to_jwk()}
    )
    d = await kz.directory(refresh=True)
    statuses = {k["kid"]: k["status"] for k in d.doc["encryption_keys"]}
    assert statuses[m["UZ"].enc.kid] == "retired"  # type: ignore[union-attr]
    size = await tree_size(harness)
    status, problem = await post_raw(harness, kz, stale)
    assert status == 422 and problem["type"] == "urn:avsec:error:recipient-mismatch", problem
    assert fresh_uz.kid in problem["expected_kids"]
    assert m["UZ"].enc.kid not in problem["expected_kids"]  # type: ignore[union-attr]
    await nothing_stored(harness, size, b1["bid"], kz)

    # GE's key is revoked: GE has no active key and cannot be sealed to
    b2 = threat("KZ")
    sealed = await seal_to(kz, b2, members)
    await harness.admin.admin("POST", f"/v1/admin/keys/{m['GE'].enc.kid}/revoke")  # type: ignore[union-attr]
    size = await tree_size(harness)
    status, problem = await post_raw(harness, kz, sealed)
    assert status == 422, problem
    assert m["GE"].enc.kid not in problem["expected_kids"]  # type: ignore[union-attr]
    await nothing_stored(harness, size, b2["bid"], kz)

    # once GE has a new key, the SDK re-seals and both rotated parties can read
    fresh_ge = EncryptionPrivateKey.generate()
    await harness.admin.admin(
        "POST", "/v1/admin/parties/GE/encryption-keys", {"jwk": fresh_ge.public.to_jwk()}
    )
    receipt = await kz.post(b2)
    m["UZ"].client.encryption_key = fresh_uz
    m["GE"].client.encryption_key = fresh_ge
    for party in ("UZ", "GE"):
        item = (await m[party].client.inbox())[0][-1]
        assert item["bid"] == receipt.bid
        assert (await m[party].client.open(item["envelope"])).bulletin == b2


async def test_admission_checks_the_metadata(harness: Harness) -> None:
    """Times and supersedes (PROTOCOL §5), and the vocabulary of §4: the server cannot
    read the body, but what it stores, routes, filters and escalates on it can."""
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    members = others("KZ", observer=False)
    size = await tree_size(harness)
    now = int(time.time())

    future = threat("KZ", now=now + 400)
    status, problem = await post_raw(harness, kz, await seal_to(kz, future, members))
    assert status == 400, problem
    for exp in (now - 1, now):  # exp before (or at) iat
        b = threat("KZ", now=now)
        b["exp"] = exp
        status, problem = await post_raw(harness, kz, await seal_to(kz, b, members))
        assert status == 400, problem
    for field, value in [
        ("priority", "urgent"),
        ("priority", "p" * 40),
        ("type", "gossip"),
        ("tlp", "white"),
        ("bid", "not-a-uuid"),
        ("bid", "x" * 100),
    ]:
        b = threat("KZ")
        b[field] = value
        envelope = await seal_to(kz, b, others("KZ", observer=False))
        status, problem = await post_raw(harness, kz, envelope)
        assert status == 400, (field, value, problem)

    assert await tree_size(harness) == size
    # a little in the future is fine
    assert (await kz.post(threat("KZ", now=now + 200))).created

    theirs = await m["UZ"].client.post(threat("UZ"))
    for target in (theirs.bid, str(uuid.uuid4())):
        b = threat("KZ", supersedes=target)
        status, problem = await post_raw(harness, kz, await seal_to(kz, b, members))
        assert status == 400, problem
    mine = await kz.post(threat("KZ"))
    update = await kz.post(threat("KZ", supersedes=mine.bid, title="Update"))
    assert update.created


async def test_receipt_and_repost(harness: Harness) -> None:
    m = await harness.cac()
    kz = m["KZ"].client
    envelope = await seal_to(kz, threat("KZ"), others("KZ"))
    status, body = await post_raw(harness, kz, envelope)
    assert status == 201 and set(body) == {"receipt"}
    token = body["receipt"]
    header = json.loads(b64u_decode(token.split(".")[0]))
    key = await kz.server_key()
    assert header == {"alg": key.alg, "kid": key.kid, "typ": "avsec-receipt+jws"}
    assert key.alg == "ML-DSA-65-Ed25519"  # the server's key is hybrid by default
    verified = jws.verify_compact(token, lambda k: key if k == key.kid else None, jws.TYP_RECEIPT)
    p = json.loads(verified.payload)
    assert set(p) == RECEIPT_FIELDS
    assert p["iss"] == "KZ" and p["recipients"] == others("KZ")
    assert p["envelope_sha256"] == b64u_encode(hashlib.sha256(envelope.encode()).digest())
    assert p["accepted_at"].endswith("Z")
    item = (await m["UZ"].client.inbox())[0][0]
    assert item["seq"] == p["seq"] and item["bid"] == p["bid"] and item["envelope"] == envelope
    # the log entry it names is this bulletin's
    leaf = await LogMonitor(kz).opened_entry(p["log_index"])  # committed (issue 17)
    assert leaf["kind"] == "bulletin" and leaf["bid"] == p["bid"]
    assert leaf["envelope_sha256"] == p["envelope_sha256"] and leaf["seq"] == p["seq"]
    # a receipt does not verify as any other kind of JWS
    with pytest.raises(InputError):
        jws.verify_compact(token, lambda k: key, jws.TYP_ACK)
    # the sender sees the same receipt on its copy of the bulletin
    assert (await kz.get(p["bid"]))["receipt"] == token

    # re-posting: the same envelope, or another one under a used bid
    b = threat("KZ")
    envelope = await seal_to(kz, b, others("KZ"))
    first = await kz.post_envelope(envelope)
    assert first.created
    status, body = await post_raw(harness, kz, envelope)
    assert status == 200 and body == {"receipt": first.token}
    again = await kz.post_envelope(envelope)
    assert not again.created and again.token == first.token
    # also after the membership changed since
    await harness.admin.admin("DELETE", "/v1/admin/groups/cac-avsec/members/TJ")
    status, body = await post_raw(harness, kz, envelope)
    assert status == 200 and body == {"receipt": first.token}

    for changed in (b, {**b, "title": "Another title"}):
        other = await seal_to(kz, changed, others("KZ", "TJ"))
        status, problem = await post_raw(harness, kz, other)
        assert status == 409 and problem["type"] == "urn:avsec:error:conflict", problem
    # another sender reusing the bid is refused too, and learns nothing else
    ub = threat("UZ", bid=b["bid"])
    status, problem = await post_raw(
        harness, m["UZ"].client, await seal_to(m["UZ"].client, ub, others("UZ", "TJ"))
    )
    assert status == 409, problem

    items, _ = await m["UZ"].client.inbox()
    assert [i["bid"] for i in items] == [p["bid"], b["bid"]], "one delivery per bulletin"


async def test_tampered_or_foreign_envelopes_are_refused(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    b = threat("KZ")
    envelope = await seal_to(kz, b, others("KZ"))
    size = await tree_size(harness)
    for part in (1, 2):  # payload, signature
        status, problem = await post_raw(harness, kz, tamper(envelope, part))
        assert status == 400 and problem["type"] == "urn:avsec:error:bad-signature", problem
    # signed by KZ's poster, posted by UZ: as KZ's own bulletin, or claiming to be UZ's
    status, problem = await post_raw(harness, uz, envelope)
    assert status == 403, problem
    ub = threat("UZ")
    forged = await seal_to(uz, ub, others("UZ"), signer=kz.signer)
    status, problem = await post_raw(harness, uz, forged)
    assert status == 403, problem
    # iss naming another party, signed and posted by KZ
    kb = threat("KZ")
    kb["iss"] = "UZ"
    status, problem = await post_raw(harness, kz, await seal_to(kz, kb, others("UZ")))
    assert status in (400, 403), problem
    await nothing_stored(harness, size, b["bid"], kz)
    await nothing_stored(harness, size, ub["bid"], uz)
    # the bid was not used up by the refusals
    assert (await kz.post_envelope(envelope)).created


async def test_concurrent_posts_of_one_bid(harness: Harness) -> None:
    """The same envelope, and other envelopes under its bid, posted at once: one is
    accepted, the same bytes get its receipt, other bytes get 409; one log entry."""
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    b = threat("KZ")
    same = await seal_to(kz, b, others("KZ", observer=False))
    other = [await seal_to(kz, b, others("KZ", observer=False)) for _ in range(3)]
    size = await tree_size(harness)
    answers = await asyncio.gather(
        *(post_raw(harness, kz, e) for e in [same] * 6 + other), return_exceptions=True
    )
    statuses = [a[0] for a in answers]  # type: ignore[index]
    assert statuses.count(201) == 1, statuses
    winner = statuses.index(201)
    token = answers[winner][1]["receipt"]  # type: ignore[index]
    for (status, body), envelope in zip(answers, [same] * 6 + other, strict=True):  # type: ignore[misc]
        if envelope == (([same] * 6 + other)[winner]):
            assert status in (200, 201) and body == {"receipt": token}
        else:
            assert status == 409, body
    assert await tree_size(harness) == size + 1
    items, _ = await m["UZ"].client.inbox()
    assert [i["bid"] for i in items] == [b["bid"]]
