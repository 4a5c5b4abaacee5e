"""Issue 17, defect 4: the audit log does not tell who receives what. A bulletin's and an
ack's leaf is a salted commitment; its opening goes to the sender's party, the recipients
and the operator only. Each test tries to get around it: a non-party reading every leaf
and probing the openings, a server (or database) serving a tampered opening, predictable
or reused salts."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import Connection, select, update
from support import Harness

from exchange.audit.canonical import canonical_json
from exchange.audit.privacy import SALT_BYTES, commit, commitment_of
from exchange.bulletin.validate import new_bulletin
from exchange.client.api import ExchangeClient
from exchange.client.audit import LogMonitor
from exchange.client.logcheck import verify_log
from exchange.crypto._b64 import b64u_decode
from exchange.errors import LogInconsistent, NotFound
from exchange.store import audit as audit_store
from exchange.store import schema as s


def red(iss: str, to: list[str], n: int = 1) -> dict[str, Any]:
    return new_bulletin(
        iss=iss,
        type="advisory",
        title=f"eyes only {n}",
        body={"summary": "named parties only"},
        now=int(time.time()),
        to=to,
        priority="priority",
        tlp="red",
    )


async def _leaves(client: ExchangeClient, start: int, end: int) -> list[bytes]:
    _, data = await client.request("GET", "/v1/audit/entries", params={"start": start, "end": end})
    return [b64u_decode(e["leaf"]) for e in data["entries"]]


async def _size(client: ExchangeClient) -> int:
    return (await LogMonitor(client).update()).size


async def _problem(client: ExchangeClient, index: int) -> tuple[str, str, str]:
    with pytest.raises(NotFound) as caught:
        await client.request("GET", f"/v1/audit/entries/{index}/opening")
    e = caught.value
    return e.code, e.title, e.detail


async def test_a_non_party_learns_no_routing_from_the_log(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, uz, kg = m["KZ"].client, m["UZ"].client, m["KG"].client
    before = await _size(kg)
    receipt = await kz.post(red("KZ", ["UZ", "AZ"]))
    item = (await uz.inbox())[0][-1]
    await uz.ack(item["bid"], "read")
    after = await _size(kg)
    assert after == before + 2  # the admission and the ack
    secrets_ = [b"KZ", b"UZ", b"AZ", receipt.bid.encode(), b"KZ/ops", b"UZ/ops", b"red"]
    for leaf in await _leaves(kg, before, after):
        fields = json.loads(leaf)
        assert fields.keys() == {"commitment", "kind", "v"}
        # The commitment is a hash: 32 bytes, whose base64url may spell "KZ" by chance.
        assert len(b64u_decode(fields["commitment"])) == 32
        rest = leaf.replace(fields["commitment"].encode(), b"")
        for word in secrets_:
            assert word not in rest, (word, leaf)
    for leaf in await _leaves(kg, 0, after):  # the bid is nowhere in the log
        assert receipt.bid.encode() not in leaf
    # Not entitled: the same 404 as an index beyond the log or a public leaf.
    beyond = await _problem(kg, after + 1000)
    assert await _problem(kg, before) == beyond
    assert await _problem(kg, before + 1) == beyond
    assert await _problem(kg, 0) == beyond  # a directory leaf has no opening
    # ... yet the non-party still verifies the whole log and every proof.
    report = await verify_log(LogMonitor(kg))
    assert report.ok and report.entries == after
    with pytest.raises(LogInconsistent, match="not for this client"):
        await LogMonitor(kg).check_included(receipt.log_index)


async def test_the_entitled_open_and_verify(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, uz, az = m["KZ"].client, m["UZ"].client, m["AZ"].client
    receipt = await kz.post(red("KZ", ["UZ"]))  # post() checks the receipt's opening
    ack = await uz.ack(receipt.bid, "received")  # ack() checks the ack's opening
    for who in (kz, uz, harness.admin):  # the sender, the recipient, the operator
        mon = LogMonitor(who)
        entry = await mon.check_included(receipt.log_index)
        assert entry["bid"] == receipt.bid and entry["recipients"] == ["UZ"]
        assert entry["iss"] == "KZ" and len(b64u_decode(entry["salt"])) == SALT_BYTES
        logged = await mon.check_included(ack["log_index"])
        assert logged["kind"] == "ack" and logged["party"] == "UZ"
    for index in (receipt.log_index, ack["log_index"]):  # AZ was not named
        with pytest.raises(LogInconsistent, match="not for this client"):
            await LogMonitor(az).check_included(index)
    # The recipient can still prove what it was routed (docs/protocol.md N8.5).
    assert await LogMonitor(uz).opened_entry(receipt.log_index) == await LogMonitor(
        kz
    ).check_included(receipt.log_index)


async def _edit_opening(harness: Harness, index: int, change: dict[str, Any]) -> None:
    def edit(conn: Connection) -> None:
        raw = conn.execute(
            select(s.audit_openings.c.opening).where(s.audit_openings.c.idx == index)
        ).scalar_one()
        entry = {**json.loads(raw), **change}
        conn.execute(
            update(s.audit_openings)
            .where(s.audit_openings.c.idx == index)
            .values(opening=canonical_json(entry))
        )

    await harness.server.exchange.db.run_write(edit)


async def test_a_tampered_opening_is_detected_by_the_sdk(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, uz = m["KZ"].client, m["UZ"].client
    receipt = await kz.post(red("KZ", ["UZ"]))
    second = await kz.post(red("KZ", ["UZ"], 2))
    assert kz.log is not None
    await kz.log.check_receipt(receipt)
    await _edit_opening(harness, receipt.log_index, {"recipients": ["UZ", "KG"]})
    with pytest.raises(LogInconsistent, match="commitment"):
        await kz.log.check_receipt(receipt)

    # An opening swapped from another (genuine) entry is refused too.
    def swap(conn: Connection) -> None:
        other = conn.execute(
            select(s.audit_openings.c.opening).where(s.audit_openings.c.idx == second.log_index)
        ).scalar_one()
        conn.execute(
            update(s.audit_openings)
            .where(s.audit_openings.c.idx == receipt.log_index)
            .values(opening=other)
        )

    await harness.server.exchange.db.run_write(swap)
    with pytest.raises(LogInconsistent, match="commitment"):
        await LogMonitor(uz).check_included(receipt.log_index)
    # An ack's opening edited: the acking SDK refuses the server's answer.
    ack = await uz.ack(second.bid, "received")
    await _edit_opening(harness, ack["log_index"], {"status": "actioned"})
    assert uz.log is not None
    with pytest.raises(LogInconsistent):
        await uz.log.check_ack(ack)
    # The leaves themselves were not touched: the log still verifies for everyone.
    assert (await verify_log(LogMonitor(m["KG"].client))).ok


async def test_salts_are_fresh_random_and_never_reused(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, uz = m["KZ"].client, m["UZ"].client
    for n in range(6):
        r = await kz.post(red("KZ", ["UZ"], n))
        await uz.ack(r.bid, "received")
    rows = await harness.server.exchange.db.run_read(
        lambda c: c.execute(select(s.audit_openings)).all()
    )
    assert len(rows) == 12
    salts = [b64u_decode(json.loads(r.opening)["salt"]) for r in rows]
    assert all(len(x) == SALT_BYTES for x in salts)
    assert len(set(salts)) == len(salts)
    assert len({x[:8] for x in salts}) == len(salts)  # no shared prefix, no counter
    # One entry committed twice: two salts, two unrelated commitments.
    entry = {"kind": "bulletin", "bid": "b", "recipients": ["UZ"]}
    (leaf1, op1), (leaf2, op2) = commit(entry), commit(entry)
    assert leaf1 != leaf2 and op1 != op2
    # A guess of the entry without the salt does not give the commitment.
    guessed = canonical_json({**entry, "salt": ""})
    assert commitment_of(guessed) not in (json.loads(leaf1)["commitment"],)


async def test_leaves_written_before_stay_verifiable(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log that holds version-1 leaves (the entry itself, no ``v``): the SDK reads
    them as before and the whole log verifies."""
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    monkeypatch.setattr(audit_store, "PRIVATE_KINDS", frozenset())  # the old server
    old = await kz.post(red("KZ", ["UZ"]))
    monkeypatch.undo()
    new = await kz.post(red("KZ", ["UZ"], 2))
    mon = LogMonitor(kz)
    legacy = await mon.check_included(old.log_index)
    assert "v" not in legacy and legacy["bid"] == old.bid and "salt" not in legacy
    assert (await mon.check_included(new.log_index))["bid"] == new.bid
    assert (await verify_log(LogMonitor(m["KG"].client))).ok
