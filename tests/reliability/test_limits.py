"""A limit on every untrusted size (issue 7, STYLE §9), each checked just past its
configured value on a server with small limits: body, token, header line, header
count, request line, recipients, JSON depth (admin bodies and envelope headers), page
size, path segment and WebSocket frame. Every answer is a 4xx (problem+json wherever a
route is reached), and nothing is logged at error level."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from support import Harness, start_harness

from exchange.bulletin.validate import new_bulletin
from exchange.config import Limits
from exchange.crypto import b64u_decode, b64u_encode, jws
from exchange.crypto.envelope import seal

SMALL = Limits(
    max_body=16 * 1024,
    max_header=1024,
    max_recipients=3,
    max_json_depth=8,
    ws_max_frame=1024,
    max_page_size=50,
    rate_per_second=100_000.0,
    rate_burst=100_000,
)


@pytest.fixture
async def h(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    # a 1 KiB header limit fits Ed25519 tokens only: a hybrid token is ~4.9 KB (issue 20)
    h = await start_harness(tmp_path, db_url, limits=SMALL, signing="ed25519")
    for p in ("AZ", "GE", "KG", "KZ", "UZ"):
        await h.enrol(p, key_kind="x25519")
    await h.group("grp", {p: "member" for p in ("AZ", "GE", "KG", "KZ", "UZ")})
    try:
        yield h
    finally:
        await h.close()


@pytest.fixture
def no_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]
    assert "unhandled error" not in caplog.text


def _problem(status: int, data: object, want: int) -> None:
    assert status == want, (status, data)
    assert isinstance(data, dict) and data["status"] == want, data


async def _raw(h: Harness, data: bytes) -> bytes:
    port = int(h.url.rsplit(":", 1)[1])
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    out = await asyncio.wait_for(r.read(), 5)
    w.close()
    return out


def _bulletin(groups: list[str], to: list[str] | None = None) -> dict[str, object]:
    return new_bulletin(
        iss="KZ",
        type="advisory",
        title="limits",
        body={"summary": "x"},
        now=int(time.time()),
        groups=groups,
        to=to or [],
        priority="routine",
        tlp="green",
    )


async def test_body_token_and_json_limits(h: Harness, no_errors: None) -> None:
    kz = h.members["KZ"]
    admin = h.admin
    assert admin.signer is not None
    post = {"client_id": kz.client.client_id, "signer": kz.signer}
    # body: one byte over max_body
    status, data = await h.raw(
        "POST",
        "/v1/bulletins",
        body=b"x" * (SMALL.max_body + 1),
        content_type="application/jose",
        **post,
    )
    _problem(status, data, 413)
    # token: over max_header
    status, data = await h.raw("GET", "/v1/directory", token="e" * (SMALL.max_header + 1), **post)
    _problem(status, data, 401)
    # JSON depth of an admin body: one level over
    deep: object = "x"
    for _ in range(SMALL.max_json_depth):
        deep = [deep]
    status, data = await h.raw(
        "POST",
        "/v1/admin/parties",
        body=json.dumps({"id": "DP", "name": deep, "kind": "state"}).encode(),
        client_id=admin.client_id,
        signer=admin.signer,  # type: ignore[arg-type]
    )
    _problem(status, data, 400)
    # JSON depth of an envelope's protected header, behind a valid signature
    env = seal(
        _bulletin(["grp"]),
        kz.signer,
        (await kz.client.directory()).keys_for(["AZ", "GE", "KG", "UZ"][:3]),
    )
    jwe = json.loads(b64u_decode(env.split(".")[1]))
    protected = json.loads(b64u_decode(jwe["protected"]))
    protected["avsec"]["groups"] = deep
    jwe["protected"] = b64u_encode(json.dumps(protected).encode())
    signed = jws.sign_compact(json.dumps(jwe).encode(), kz.signer, jws.TYP_ENVELOPE)
    status, data = await h.raw(
        "POST", "/v1/bulletins", body=signed.encode(), content_type="application/jose", **post
    )
    assert 400 <= status < 500, (status, data)
    # page size and path segment
    status, data = await h.raw("GET", f"/v1/inbox?limit={SMALL.max_page_size + 1}", **post)
    _problem(status, data, 400)
    status, data = await h.raw("GET", "/v1/bulletins/" + "a" * 65, **post)
    _problem(status, data, 400)


async def test_recipients_over_the_limit(h: Harness, no_errors: None) -> None:
    kz = h.members["KZ"]
    env = seal(
        _bulletin(["grp"]),
        kz.signer,
        (await kz.client.directory()).keys_for(["AZ", "GE", "KG", "UZ"]),  # 4 > 3
    )
    status, data = await h.raw(
        "POST",
        "/v1/bulletins",
        body=env.encode(),
        content_type="application/jose",
        client_id=kz.client.client_id,
        signer=kz.signer,
    )
    assert 400 <= status < 500 and data["status"] == status, (status, data)


async def test_http_parser_limits(h: Harness, no_errors: None) -> None:
    """Refused by aiohttp's parser before any route: 400 (plain text, the parser's), and
    a warning line in the log instead of an error with a traceback."""
    for request in (
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: a\r\n" % i for i in range(200))
        + b"\r\n",
        b"GET /v1/inbox?after=" + b"1" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"NOT-A-METHOD / HTTP/1.1\r\n\r\n",
    ):
        answer = await _raw(h, request)
        assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), answer


async def test_websocket_frame_over_the_limit(h: Harness, no_errors: None) -> None:
    uz = h.members["UZ"].client
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(
            h.url + "/v1/stream", params={"access_token": uz.token("GET", "/v1/stream")}
        )
        await ws.send_str("x" * 100)  # within the limit: read and ignored
        await ws.send_str("x" * (SMALL.ws_max_frame + 1))
        while (msg := await asyncio.wait_for(ws.receive(), 10)).type == aiohttp.WSMsgType.TEXT:
            pass
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG, ws.close_code


async def test_the_stream_refuses_permessage_deflate(h: Harness, no_errors: None) -> None:
    """Sealed envelopes do not compress; a compressed stream would cost the server a
    deflate per frame and per recipient, and inflate whatever a client sends (the HTTP
    side refuses compressed bodies likewise)."""
    uz = h.members["UZ"].client
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(  # aiohttp offers permessage-deflate by default
            h.url + "/v1/stream",
            params={"access_token": uz.token("GET", "/v1/stream")},
            compress=15,
        )
        assert ws.compress == 0  # the server's answer named no extension
        assert "Sec-WebSocket-Extensions" not in ws._response.headers
        await ws.close()
