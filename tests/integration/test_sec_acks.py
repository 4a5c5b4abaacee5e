"""Issue 17, defects 1 and 2, and "acks only move forward": a signed ack is read as
strictly as an envelope. Every payload here carries a *valid* signature by the acking
client's own key, so it reaches the claim checks; none may answer 5xx, none may store
anything, on SQLite and PostgreSQL (the ``harness`` fixture runs both)."""

from __future__ import annotations

import time
from typing import Any

from integration._flows import post_ack, threat, tree_size
from support import Harness

from exchange.crypto import jws


def _signed(signer: Any, payload: bytes) -> str:
    return jws.sign_compact(payload, signer, jws.TYP_ACK)


async def test_hostile_signed_ack_payloads_are_4xx_and_store_nothing(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    bid = (await kz.post(threat("KZ"))).bid
    now = int(time.time())
    head = f'{{"bid":"{bid}","party":"UZ","status":"read"'.encode()
    payloads: dict[str, bytes] = {
        "iat beyond BIGINT": head + b',"iat":' + str(2**63).encode() + b"}",
        "iat below BIGINT": head + b',"iat":' + str(-(2**63) - 1).encode() + b"}",
        "iat 10**30": head + b',"iat":' + b"1" + b"0" * 30 + b"}",
        "iat 4300 digits": head + b',"iat":' + b"9" * 4400 + b"}",
        "iat 1e400 (inf)": head + b',"iat":1e400}',
        "iat a float": head + b',"iat":' + str(now).encode() + b".5}",
        "iat true": head + b',"iat":true}',
        "iat null": head + b',"iat":null}',
        "iat NaN": head + b',"iat":NaN}',
        "iat negative": head + b',"iat":-1}',
        "iat deep list": head + b',"iat":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "iat deep object": head + b',"iat":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
        "status a list": f'{{"bid":"{bid}","party":"UZ","status":["read"],"iat":{now}}}'.encode(),
        "status an object": f'{{"bid":"{bid}","party":"UZ","status":{{}},"iat":{now}}}'.encode(),
        "party a list": f'{{"bid":"{bid}","party":["UZ"],"status":"read","iat":{now}}}'.encode(),
        "bid an object": f'{{"bid":{{"x":1}},"party":"UZ","status":"read","iat":{now}}}'.encode(),
        "duplicate status": head + f',"status":"actioned","iat":{now}}}'.encode(),
        "duplicate iat": head + f',"iat":{now},"iat":{2**70}}}'.encode(),
        "lone surrogate": f'{{"bid":"{bid}","party":"UZ","status":"\\ud800","iat":{now}}}'.encode(),
        "not UTF-8": head + b',"iat":1,"x":"\xff"}',
        "a list": b"[1,2,3]",
        "a string": b'"read"',
        "a huge number": b"1" + b"0" * 5000,
        "empty": b"",
        "trailing garbage": head + f',"iat":{now}}} x'.encode(),
        "iat 1 h in the future": head + f',"iat":{now + 3600}}}'.encode(),
        "iat before the bulletin was accepted": head + f',"iat":{now - 3600}}}'.encode(),
    }
    size = await tree_size(harness)
    for name, payload in payloads.items():
        status, problem = await post_ack(harness, uz, bid, _signed(uz.signer, payload))
        assert 400 <= status < 500, (name, status, problem)
        assert problem["type"].startswith("urn:avsec:error:"), (name, problem)
        assert "Traceback" not in problem["detail"], name
    assert await tree_size(harness) == size
    assert all(r["acks"] == [] for r in (await kz.status(bid))["recipients"])
    # the same claims within bounds are accepted: the cases above fail for what they hold
    status, view = await post_ack(harness, uz, bid, _signed(uz.signer, head + b',"iat":%d}' % now))
    assert status == 201 and view["iat"] == now, view


async def test_ack_time_bounds_follow_acceptance_and_skew(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    bid = (await kz.post(threat("KZ"))).bid
    skew = harness.server.exchange.limits.clock_skew
    now = int(time.time())

    def token(iat: int, status: str) -> str:
        body = f'{{"bid":"{bid}","party":"UZ","status":"{status}","iat":{iat}}}'
        return _signed(uz.signer, body.encode())

    # just outside each bound: refused
    assert (await post_ack(harness, uz, bid, token(now + skew + 5, "received")))[0] == 400
    assert (await post_ack(harness, uz, bid, token(now - skew - 5, "received")))[0] == 400
    # just inside: a desk whose clock is a little behind or ahead is not refused
    assert (await post_ack(harness, uz, bid, token(now - skew + 5, "received")))[0] == 201
    assert (await post_ack(harness, uz, bid, token(now + skew - 5, "read")))[0] == 201


async def test_acks_only_move_forward(harness: Harness) -> None:
    m = await harness.cac()
    kz, uz = m["KZ"].client, m["UZ"].client
    desk = await harness.add_client("UZ", "desk", ("reader",))
    bid = (await kz.post(threat("KZ"))).bid
    actioned = await uz.ack(bid, "actioned")
    size = await tree_size(harness)
    # a lower status afterwards, from the same client or another of the party: 200, the
    # party's highest ack, nothing recorded, the ledger unchanged
    for client in (uz, desk):
        for status in ("received", "read"):
            token = _signed(
                client.signer,
                f'{{"bid":"{bid}","party":"UZ","status":"{status}","iat":{int(time.time())}}}'.encode(),
            )
            code, view = await post_ack(harness, client, bid, token)
            assert code == 200, (status, view)
            assert view["status"] == "actioned" and view["log_index"] == actioned["log_index"]
    assert await tree_size(harness) == size
    uz_row = next(r for r in (await kz.status(bid))["recipients"] if r["party"] == "UZ")
    assert [a["status"] for a in uz_row["acks"]] == ["actioned"]
    # another party's order is its own: GE may still go received -> read
    ge = m["GE"].client
    assert (await ge.ack(bid, "received"))["status"] == "received"
    assert (await ge.ack(bid, "read"))["status"] == "read"
