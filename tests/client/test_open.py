"""The SDK's own checks when opening, independent of what the server enforced."""

from __future__ import annotations

import time

import pytest
from support import Harness

from exchange.bulletin.validate import new_bulletin
from exchange.crypto.envelope import seal
from exchange.errors import BadSignature, NotARecipient


def advisory(iss: str, **kw: object) -> dict:
    args = dict(
        iss=iss,
        type="advisory",
        title="GNSS interference",
        now=int(time.time()),
        body={"summary": "GNSS jamming reported east of UGTB"},
        groups=["cac-avsec"],
        priority="priority",
        tlp="amber",
    )
    args.update(kw)
    return new_bulletin(**args)  # type: ignore[arg-type]


async def test_key_of_another_party_cannot_speak_for_iss(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    uz = m["UZ"].client
    d = await uz.directory()
    forged = seal(advisory("KZ"), m["GE"].signer, d.keys_for(["AZ", "GE", "KG", "TJ", "UZ"]))
    with pytest.raises(BadSignature, match="not a poster"):
        await uz.open(forged)


async def test_reader_only_key_cannot_author(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    reader = await harness.add_client("KZ", "desk", ("reader",))
    uz = m["UZ"].client
    d = await uz.directory(refresh=True)
    env = seal(advisory("KZ"), reader.signer, d.keys_for(["AZ", "GE", "KG", "TJ", "UZ"]))
    with pytest.raises(BadSignature):
        await uz.open(env)


async def test_forwarded_outside_audience_is_refused(harness: Harness) -> None:
    """A recipient re-seals KZ's bulletin (same sender key is impossible) to a party
    outside its audience: the receiving SDK refuses it."""
    m = await harness.cac(observer=False)
    await harness.enrol("TR")
    tr = harness.members["TR"].client
    d = await tr.directory(refresh=True)
    env = seal(advisory("KZ"), m["KZ"].signer, d.keys_for(["TR"]))
    with pytest.raises(NotARecipient):
        await tr.open(env)
