"""Issue 17: a party that is not party to a bulletin probes its ``bid``. The duplicate
rule of PROTOCOL §5 stands (a used bid is 409, the sender's own re-post 200), but every
answer a probe can get cheaply is the answer a fresh bid gets: reading it, superseding
it, and posting an envelope that would be refused anyway. Only a post that would be
accepted under a fresh bid (a real bulletin in the prober's own name, delivered and
logged when the bid is fresh) meets the used bid (docs/protocol.md, issue 17, 13)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support import Harness

from exchange.bulletin.validate import new_bulletin
from exchange.client.api import ExchangeClient
from exchange.crypto.envelope import seal
from exchange.errors import Conflict, ExchangeError


def bulletin(iss: str, to: list[str], bid: str, **kw: Any) -> dict[str, Any]:
    return new_bulletin(
        iss=iss,
        type="advisory",
        title="probe",
        body={"summary": "probe"},
        now=int(time.time()),
        to=to,
        priority="routine",
        tlp="red",
        bid=bid,
        **kw,
    )


async def _answer(call: Callable[[], Awaitable[Any]]) -> tuple[str, int, str]:
    try:
        await call()
    except ExchangeError as exc:
        return type(exc).__name__, exc.status, exc.detail
    return "accepted", 200, ""


async def _both(probe: Callable[[str], Awaitable[Any]], used: str) -> None:
    """The probe answers alike for the used bid and a fresh one (its bid masked)."""
    fresh = str(uuid.uuid4())
    a = await _answer(lambda: probe(used))
    b = await _answer(lambda: probe(fresh))
    assert (a[0], a[1], a[2].replace(used, "BID")) == (b[0], b[1], b[2].replace(fresh, "BID"))
    assert a[0] != "Conflict", a


async def test_a_non_recipient_probing_a_bid_learns_nothing(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz, kg = m["KZ"].client, m["KG"].client
    used = (await kz.post(bulletin("KZ", ["UZ"], str(uuid.uuid4())))).bid

    # Reading it: the same 404 as a bid never used.
    await _both(lambda bid: kg.get(bid), used)
    await _both(lambda bid: kg.status(bid), used)
    await _both(lambda bid: kg.ack(bid, "received"), used)

    # Superseding it: the same 400 as superseding a bid never used.
    async def supersede(bid: str) -> Any:
        return await kg.post(bulletin("KG", ["AZ"], str(uuid.uuid4()), supersedes=bid))

    await _both(supersede, used)

    # Posting under it an envelope sealed to the wrong keys: the 422 of a fresh bid.
    async def mis_sealed(bid: str) -> Any:
        d = await kg.directory()
        env = seal(bulletin("KG", ["AZ"], bid), kg.signer, d.keys_for(["AZ", "TJ"]))
        return await kg.post_envelope(env)

    await _both(mis_sealed, used)

    # ... or stale: the 400 of a fresh bid.
    async def stale(bid: str) -> Any:
        old = bulletin("KG", ["AZ"], bid)
        old["iat"] = int(time.time()) - 3 * 86400
        d = await kg.directory()
        return await kg.post_envelope(seal(old, kg.signer, d.keys_for(["AZ"])))

    await _both(stale, used)

    # A post that would be accepted: the 409 of the duplicate rule, naming nothing.
    with pytest.raises(Conflict) as caught:
        await kg.post(bulletin("KG", ["AZ"], used))
    assert caught.value.detail == "this bid is already used by a different envelope"
    for word in ("KZ", "UZ", used):
        assert word not in caught.value.detail
    # ... which under a fresh bid is a real bulletin in KG's name, delivered and logged.
    receipt = await kg.post(bulletin("KG", ["AZ"], str(uuid.uuid4())))
    assert receipt.created and receipt.recipients == ("AZ",)


async def test_the_duplicate_rule_stands_for_the_sender(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    d = await kz.directory()
    b = bulletin("KZ", ["UZ"], str(uuid.uuid4()))
    env = seal(b, kz.signer, d.keys_for(["UZ"]))
    first = await kz.post_envelope(env)
    again = await kz.post_envelope(env)  # the same envelope: its receipt, 200
    assert first.created and not again.created and again.token == first.token
    other = seal({**b, "title": "changed"}, kz.signer, d.keys_for(["UZ"]))
    with pytest.raises(Conflict):  # a different envelope under a used bid
        await kz.post_envelope(other)
    # A recipient (it can read the bulletin) posting under its bid: 409 as well.
    uz: ExchangeClient = m["UZ"].client
    with pytest.raises(Conflict):
        await uz.post(bulletin("UZ", ["KZ"], b["bid"]))
