"""Path and query parameters of the bulletin routes: bad input is a 4xx problem, never a
5xx from the database (PostgreSQL refuses a NUL in text and answers with an error)."""

from __future__ import annotations

import json

from integration._flows import MakeHarness, ack_token, post_raw, seal_to, threat
from support import Harness

from exchange.config import Limits
from exchange.crypto import b64u_encode

BAD_BIDS = ["%00", "a%00b", "%C3%A9", "x" * 65, "%FF", "%20", "A" * 36]


async def test_bad_bid_in_path(harness: Harness) -> None:
    uz = (await harness.enrol("UZ")).client
    for bid in BAD_BIDS:
        for method, suffix in (("GET", ""), ("GET", "/status"), ("POST", "/acks")):
            body = None
            if method == "POST":
                payload = {"bid": bid, "party": "UZ", "status": "read", "iat": 1}
                body = ack_token(uz.signer, payload).encode()
            status, problem = await harness.raw(
                method,
                f"/v1/bulletins/{bid}{suffix}",
                client_id=uz.client_id,
                signer=uz.signer,
                body=body,
                content_type="application/jose",
            )
            assert 400 <= status < 500, (method, bid, suffix, status, problem)


async def test_bad_inbox_cursor(harness: Harness) -> None:
    uz = (await harness.enrol("UZ")).client
    for query in ("after=-1", "after=x", "after=%00", "limit=0", "limit=100000", "after=1e3"):
        status, problem = await harness.raw(
            "GET", f"/v1/inbox?{query}", client_id=uz.client_id, signer=uz.signer
        )
        assert status == 400, (query, problem)
    # a cursor past the end is simply an empty page
    status, page = await harness.raw(
        "GET", "/v1/inbox?after=999999999", client_id=uz.client_id, signer=uz.signer
    )
    assert status == 200 and page == {"items": [], "next": 999999999}


async def test_envelope_header_kid_never_reaches_the_database(harness: Harness) -> None:
    kz = (await harness.enrol("KZ")).client
    for kid in ("\u0000", "a\u0000b", "é", "x" * 65, "", 7):
        header = json.dumps({"alg": "EdDSA", "kid": kid, "typ": "avsec-envelope+jws"})
        envelope = f"{b64u_encode(header.encode())}.e30.{b64u_encode(bytes(64))}"
        status, problem = await post_raw(harness, kz, envelope)
        assert status == 400, (kid, problem)


async def test_post_body_limits_and_media_type(make_harness: MakeHarness) -> None:
    h = await make_harness(limits=Limits(max_body=64 * 1024))
    m = await h.cac(observer=False)
    kz = m["KZ"].client
    b = threat("KZ")
    b["body"] = {"summary": "x" * 80_000}
    envelope = await seal_to(kz, b, [p for p in m if p != "KZ"])
    status, problem = await post_raw(h, kz, envelope)
    assert status == 413 and problem["type"] == "urn:avsec:error:payload-too-large"
    small = await seal_to(kz, threat("KZ"), [p for p in m if p != "KZ"])
    for content_type, body, want in (
        ("application/json", small.encode(), 415),
        ("text/plain", small.encode(), 415),
        ("application/jose", b"", 400),
        ("application/jose", b"   ", 400),
    ):
        status, problem = await h.raw(
            "POST",
            "/v1/bulletins",
            client_id=kz.client_id,
            signer=kz.signer,
            body=body or None,
            content_type=content_type,
        )
        assert status == want, (content_type, body[:10], problem)
    status, _ = await h.raw("PUT", "/v1/bulletins", client_id=kz.client_id, signer=kz.signer)
    assert status == 405
    assert (await kz.post_envelope(small)).created
