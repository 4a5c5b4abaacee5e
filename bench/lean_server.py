"""The LEAN REFERENCE for ``POST /v1/bulletins`` (issue 19): a bare aiohttp handler that
does only the per-request cryptography, with ``cryptography`` directly and no project code:

1. the request token: split, header JSON, the key of its ``kid``, the signature over the
   signing input, the claims JSON (``aud``, ``htm``, ``htu``, ``exp``) and ``bsh`` =
   SHA-256 of the body;
2. the envelope: the outer signature over its signing input, then the JSON of the JWE and
   of its protected header, for what the receipt names (bid, iss, recipient kids);
3. the receipt: canonical JSON signed with the server's key kind (``--server-key``:
   hybrid, as ``exchange init`` makes, or ed25519).

A signature is Ed25519, or the composite ML-DSA-65 + Ed25519 (both halves over
``M' = base64url(Prefix || Label || 0x00 || SHA-512(M))``, ML-DSA with ``ctx = Label``,
the draft's combiner as exchange/crypto/composite.py) when the client key is hybrid.
Nothing is stored, nothing is checked strictly (no duplicate-member, canonical base64url,
depth or size rules): the floor of the work, not a server one could run.

Run by bench/ingest.py; by hand: ``python bench/lean_server.py --keys KEYS.json``
(``{"exchange_id": ..., "keys": {kid: public signing JWK}}``). Prints ``listening on URL``.
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
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

PREFIX = b"CompositeAlgorithmSignatures2025"
LABEL = b"COMPSIG-MLDSA65-Ed25519-SHA512"
MLDSA_SIG = 3309


def b64d(s: bytes | str) -> bytes:
    raw = s.encode("ascii") if isinstance(s, str) else s
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def b64e(b: bytes) -> bytes:
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def m_prime(message: bytes) -> bytes:
    return b64e(PREFIX + LABEL + b"\x00" + hashlib.sha512(message).digest())


class Key:
    """A public signing key: Ed25519, or the ML-DSA-65 + Ed25519 pair."""

    def __init__(self, jwk: dict[str, str]) -> None:
        if jwk.get("kty") == "OKP":
            self.ed = ed25519.Ed25519PublicKey.from_public_bytes(b64d(jwk["x"]))
            self.ml: mldsa.MLDSA65PublicKey | None = None
        else:
            self.ed = ed25519.Ed25519PublicKey.from_public_bytes(b64d(jwk["ed25519"]))
            self.ml = mldsa.MLDSA65PublicKey.from_public_bytes(b64d(jwk["mldsa65"]))

    def verify(self, sig: bytes, msg: bytes) -> bool:
        try:
            if self.ml is None:
                self.ed.verify(sig, msg)
            else:
                mp = m_prime(msg)
                self.ml.verify(sig[:MLDSA_SIG], mp, LABEL)
                self.ed.verify(sig[MLDSA_SIG:], mp)
        except InvalidSignature:
            return False
        return True


class ServerKey:
    def __init__(self, kind: str) -> None:
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.ml = mldsa.MLDSA65PrivateKey.generate() if kind == "hybrid" else None
        self.header = b64e(
            json.dumps(
                {"alg": "EdDSA" if self.ml is None else "ML-DSA-65-Ed25519", "kid": "srv"}
                | {"typ": "avsec-receipt+jws"},
                separators=(",", ":"),
            ).encode()
        )

    def sign_compact(self, payload: bytes) -> bytes:
        si = self.header + b"." + b64e(payload)
        if self.ml is None:
            sig = self.ed.sign(si)
        else:
            mp = m_prime(si)
            sig = self.ml.sign(mp, LABEL) + self.ed.sign(mp)
        return si + b"." + b64e(sig)


def verified(token: bytes, keys: dict[str, Key]) -> tuple[dict[str, Any], bytes] | None:
    """(payload JSON or raw payload, payload bytes) of a compact JWS whose signature holds."""
    h64, p64, s64 = token.split(b".")
    header = json.loads(b64d(h64))
    key = keys.get(header["kid"])
    if key is None or not key.verify(b64d(s64), token[: len(h64) + 1 + len(p64)]):
        return None
    return header, b64d(p64)


def make_app(keys: dict[str, Key], aud: str, server_key: ServerKey) -> web.Application:
    seq = 0

    async def post(request: web.Request) -> web.Response:
        nonlocal seq
        body = await request.read()
        try:
            tok = verified(request.headers["Authorization"][7:].encode(), keys)
            if tok is None:
                return web.json_response({"error": "bad token"}, status=401)
            claims = json.loads(tok[1])
            bsh = b64e(hashlib.sha256(body).digest()).decode()
            if (
                claims["aud"] != aud
                or claims["htm"] != "POST"
                or claims["htu"] != request.path
                or claims["exp"] < time.time()
                or claims["bsh"] != bsh
            ):
                return web.json_response({"error": "bad claims"}, status=401)
            env = verified(body.strip(), keys)
            if env is None:
                return web.json_response({"error": "bad signature"}, status=400)
            jwe = json.loads(env[1])
            avsec = json.loads(b64d(jwe["protected"]))["avsec"]
            kids = sorted(r["header"]["kid"] for r in jwe["recipients"])
        except (KeyError, ValueError):
            return web.json_response({"error": "malformed"}, status=400)
        seq += 1
        payload = json.dumps(
            {
                "accepted_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "bid": avsec["bid"],
                "envelope_sha256": b64e(hashlib.sha256(body).digest()).decode(),
                "iss": avsec["iss"],
                "log_index": seq,
                "recipients": kids,
                "seq": seq,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        receipt = server_key.sign_compact(payload).decode()
        return web.json_response({"receipt": receipt}, status=201)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_post("/v1/bulletins", post)
    app.router.add_get("/v1/health", health)
    return app


async def run(keys: dict[str, Key], aud: str, server_key: ServerKey, port: int) -> None:
    runner = web.AppRunner(make_app(keys, aud, server_key), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
    await site.start()
    actual = next(iter(runner.addresses))[1]
    print(f"lean server listening on http://127.0.0.1:{actual}", flush=True)
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
    p.add_argument("--server-key", choices=("hybrid", "ed25519"), default="hybrid")
    args = p.parse_args()
    data = json.loads(args.keys.read_text(encoding="utf-8"))
    keys = {kid: Key(jwk) for kid, jwk in data["keys"].items()}
    asyncio.run(run(keys, data["exchange_id"], ServerKey(args.server_key), args.port))


if __name__ == "__main__":
    main()
