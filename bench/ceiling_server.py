"""The CEILING for ``POST /v1/bulletins``: a bare aiohttp handler in its own process that
does only the cryptographic work the exchange does per request, and stores nothing:

1. the request token (``exchange.crypto.tokens.verify_request_token``: Ed25519 verify,
   claims, body hash);
2. the envelope (``exchange.crypto.envelope.verify_envelope``: outer Ed25519 verify over
   the whole envelope, strict JWE parse);
3. the receipt (``exchange.crypto.jws.sign_compact`` over canonical JSON), with the
   server's key kind (``--server-key``; hybrid, as ``exchange init`` makes, by default).

No database, no jti, no routing, no log. ``--bare`` skips the crypto too (the framework's
own ceiling: read the body, answer 201).

Run by bench/ingest.py; by hand: ``python bench/ceiling_server.py --keys KEYS.json``
where KEYS.json is ``{"exchange_id": ..., "keys": {kid: public signing JWK}}``. Prints
``listening on URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import signal
import time
from pathlib import Path

from aiohttp import web

from exchange.audit.canonical import canonical_json
from exchange.crypto import jws
from exchange.crypto.envelope import verify_envelope
from exchange.crypto.keys import SigningPublicKey, generate_signer, parse_signing_jwk
from exchange.crypto.tokens import verify_request_token
from exchange.errors import ExchangeError


def make_app(
    keys: dict[str, SigningPublicKey], aud: str, bare: bool, server_key: str = "hybrid"
) -> web.Application:
    signer = generate_signer("hybrid" if server_key == "hybrid" else "ed25519")
    seq = 0

    async def post(request: web.Request) -> web.Response:
        nonlocal seq
        body = await request.read()
        if bare:
            return web.json_response({"receipt": "bare"}, status=201)
        auth = request.headers.get("Authorization", "")
        try:
            verify_request_token(
                auth[7:],
                keys.get,
                aud=aud,
                method=request.method,
                path=request.rel_url.raw_path,
                body=body,
                now=int(time.time()),
            )
            info = verify_envelope(body, keys.get, max_size=2 * 1024 * 1024, max_recipients=500)
        except ExchangeError as exc:
            return web.json_response({"error": exc.code}, status=exc.status)
        seq += 1
        receipt = jws.sign_compact(
            canonical_json(
                {
                    "bid": info.metadata["bid"],
                    "seq": seq,
                    "iss": info.metadata["iss"],
                    "recipients": sorted(info.recipient_kids),
                    "envelope_sha256": base64.urlsafe_b64encode(hashlib.sha256(body).digest())
                    .rstrip(b"=")
                    .decode(),
                    "accepted_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "log_index": seq,
                }
            ),
            signer,
            jws.TYP_RECEIPT,
        )
        return web.json_response({"receipt": receipt}, status=201)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_post("/v1/bulletins", post)
    app.router.add_get("/v1/health", health)
    return app


async def run(
    keys: dict[str, SigningPublicKey], aud: str, bare: bool, port: int, server_key: str
) -> None:
    runner = web.AppRunner(
        make_app(keys, aud, bare, server_key), access_log=None, handle_signals=False
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
    await site.start()
    actual = next(iter(runner.addresses))[1]
    print(f"ceiling server listening on http://127.0.0.1:{actual}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--keys", type=Path, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bare", action="store_true")
    p.add_argument("--server-key", choices=("hybrid", "ed25519"), default="hybrid")
    args = p.parse_args()
    data = json.loads(args.keys.read_text(encoding="utf-8"))
    keys = {kid: parse_signing_jwk(jwk) for kid, jwk in data["keys"].items()}
    asyncio.run(run(keys, data["exchange_id"], args.bare, args.port, args.server_key))


if __name__ == "__main__":
    main()
