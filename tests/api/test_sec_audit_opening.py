"""``GET /v1/audit/entries/{index}/opening`` on the wire (issue 17, leaf privacy): a
token is needed, a malformed index is a 400 problem, and a missing, public or
not-entitled entry is one and the same 404 problem."""

from __future__ import annotations

import time

from support import Harness

from exchange.bulletin.validate import new_bulletin


async def test_opening_on_the_wire(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    receipt = await m["KZ"].client.post(
        new_bulletin(
            iss="KZ",
            type="advisory",
            title="red",
            body={"summary": "x"},
            now=int(time.time()),
            to=["UZ"],
            tlp="red",
        )
    )
    i = receipt.log_index

    async def get(party: str, index: object) -> tuple[int, object]:
        member = m[party]
        path = f"/v1/audit/entries/{index}/opening"
        return await harness.raw("GET", path, client_id=f"{party}/ops", signer=member.signer)

    status, data = await get("UZ", i)
    assert status == 200 and isinstance(data, dict) and set(data) == {"index", "leaf", "opening"}
    status, _ = await get("UZ", "-1")
    assert status == 400
    status, _ = await get("UZ", "1" * 40)
    assert status == 400
    answers = [await get("KG", x) for x in (i, 0, 10**15)]
    assert all(s == 404 for s, _ in answers)
    assert answers[0][1] == answers[1][1] == answers[2][1]
    status, _ = await harness.raw(
        "GET", f"/v1/audit/entries/{i}/opening", client_id="x", signer=m["UZ"].signer, token="x"
    )
    assert status == 401
