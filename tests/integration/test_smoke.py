from __future__ import annotations

import time

from support import Harness

from exchange.bulletin.validate import new_bulletin


def threat(iss: str, now: int, **kw: object) -> dict:
    body = {
        "summary": "Credible reporting of MANPADS near Almaty approach",
        "threat_level": "substantial",
        "categories": ["manpads"],
        "locations": ["UAAA"],
        "valid_from": now,
        "valid_until": now + 7 * 86400,
    }
    args = dict(
        iss=iss,
        type="threat-assessment",
        title="MANPADS threat UAAA",
        body=body,
        now=now,
        groups=["cac-avsec"],
        priority="immediate",
        tlp="amber",
    )
    args.update(kw)
    return new_bulletin(**args)  # type: ignore[arg-type]


async def test_post_and_read(harness: Harness) -> None:
    m = await harness.cac()
    now = int(time.time())
    receipt = await m["KZ"].client.post(threat("KZ", now))
    assert receipt.created
    assert set(receipt.recipients) == {"AZ", "GE", "KG", "TJ", "UZ", "ICAO"}
    items, _next = await m["UZ"].client.inbox()
    assert [i["bid"] for i in items] == [receipt.bid]
    opened = await m["UZ"].client.open(items[0]["envelope"])
    assert opened.bulletin["title"] == "MANPADS threat UAAA"
    await m["UZ"].client.ack(receipt.bid, "read")
    ledger = await m["KZ"].client.status(receipt.bid)
    uz = next(r for r in ledger["recipients"] if r["party"] == "UZ")
    assert uz["acks"][0]["status"] == "read"
