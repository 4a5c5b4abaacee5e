"""Seal, open and server-verify timings for the envelope (PROTOCOL §3), and the cost and
sizes of each signing key kind (issue 20: Ed25519 and the ML-DSA-65 + Ed25519 composite).

Run: ``python bench/seal_open.py [--runs N] [--signatures-only]``.  Prints the machine,
one row per signing key kind (sign, verify, signature, public JWK and request-token sizes),
the signature cost of one post (issue 20: the request token and the envelope verified with
the client's key, the receipt signed with the server's; the ML-DSA-65 verify cost per post
is the hybrid row minus the Ed25519 row), then one row per recipient count, encryption
key kind and signing key kind with the median of N runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import cryptography

from exchange.crypto import (
    TYP_ACK,
    EncryptionPrivateKey,
    SigningKey,
    generate_signer,
    make_request_token,
    open_envelope,
    seal,
    sign_compact,
    verify_compact,
    verify_envelope,
)
from exchange.crypto._b64 import b64u_decode

COUNTS = (6, 50, 193)
KINDS = ("hybrid", "x25519")
SIGNING_KINDS = ("ed25519", "hybrid")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def bulletin() -> dict[str, Any]:
    return {
        "v": 1,
        "bid": str(uuid.uuid4()),
        "iss": "KZ",
        "groups": ["cac-avsec"],
        "to": [],
        "type": "threat-assessment",
        "priority": "immediate",
        "tlp": "amber",
        "iat": 1790000000,
        "exp": 1790604800,
        "supersedes": None,
        "title": "Benchmark bulletin",
        "lang": "en",
        "body": {"summary": "x" * 2000, "threat_level": "substantial", "locations": ["UAAA"]},
    }


def signatures(runs: int) -> dict[str, SigningKey]:
    """One row per signing key kind: raw sign/verify, JWS verify, and the sizes."""
    header = f"| {'signing':<7} | {'alg':<17} | {'sign ms':>8} | {'verify ms':>9} |"
    header += f" {'sig bytes':>9} | {'pub JWK bytes':>13} | {'req token bytes':>15} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    signers: dict[str, SigningKey] = {}
    data = b"x" * 200  # about one request token's signing input
    for kind in SIGNING_KINDS:
        signer = signers[kind] = generate_signer(kind)  # type: ignore[arg-type]
        sig = signer.sign(data)
        sign_ms = median_ms(lambda: signer.sign(data), runs)  # noqa: B023
        verify_ms = median_ms(lambda: signer.public.verify(sig, data), runs)  # noqa: B023
        resolve = {signer.kid: signer.public}.get
        token = sign_compact(b'{"bid":"b"}', signer, TYP_ACK)
        assert verify_compact(token, resolve, TYP_ACK)
        req = make_request_token(
            signer, client_id="KZ/ops", aud="a", method="POST", path="/v1/bulletins",
            body=b"{}", now=1790000000,
        )  # fmt: skip
        jwk = len(json.dumps(signer.public.to_jwk(), separators=(",", ":")))
        print(
            f"| {kind:<7} | {signer.alg:<17} | {sign_ms:>8.3f} | {verify_ms:>9.3f} |"
            f" {len(sig):>9,} | {jwk:>13,} | {len(req):>15,} |"
        )
    print()
    return signers


def per_post(signers: dict[str, SigningKey], runs: int) -> None:
    """The signature work of one POST /v1/bulletins (4 hybrid recipients), per key kind."""
    recipients = [EncryptionPrivateKey.generate("hybrid").public for _ in range(4)]
    rows: dict[str, tuple[float, float, float]] = {}
    for kind, signer in signers.items():
        env = seal(bulletin(), signer, recipients).encode("ascii")
        req = make_request_token(
            signer, client_id="KZ/ops", aud="a", method="POST", path="/v1/bulletins",
            body=env, now=1790000000,
        ).encode("ascii")  # fmt: skip
        cost = []
        for jws in (req, env):
            h, p, sig64 = jws.split(b".")
            sig = b64u_decode(sig64)
            si = jws[: len(h) + 1 + len(p)]
            cost.append(median_ms(lambda: signer.public.verify(sig, si), runs))  # noqa: B023
        receipt = b"x" * 420  # a receipt's signing input, about
        rows[kind] = (cost[0], cost[1], median_ms(lambda: signer.sign(receipt), runs))  # noqa: B023
    print("Signatures of one post (4 hybrid recipients), ms, median of", runs)
    print("| keys    | token verify | envelope verify | verify per post | receipt sign |")
    print("|---------|--------------|-----------------|-----------------|--------------|")
    for kind, (tok, env_ms, rec) in rows.items():
        print(
            f"| {kind:<7} | {tok:>12.3f} | {env_ms:>15.3f} | {tok + env_ms:>15.3f} | {rec:>12.3f} |"
        )
    if "hybrid" in rows and "ed25519" in rows:
        h, e = rows["hybrid"], rows["ed25519"]
        extra = h[0] + h[1] - e[0] - e[1]
        print(
            f"ML-DSA-65 verify cost per post (hybrid client key - Ed25519): {extra:.3f} ms"
            f" ({extra / 2:.3f} ms per verify, x{(h[0] + h[1]) / (e[0] + e[1]):.1f});"
            f" a hybrid server key adds {h[2] - e[2]:.3f} ms per receipt"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--signatures-only", action="store_true", help="only the signing key kinds table"
    )
    args = parser.parse_args()

    print(f"platform:     {platform.platform()}")
    print(f"cpu:          {cpu_model()}")
    print(f"cores:        {os.cpu_count()}")
    print(f"python:       {platform.python_version()}")
    print(f"cryptography: {cryptography.__version__}")
    print(f"runs:         median of {args.runs}, bulletin body ~2 KiB")
    print()
    signers = signatures(args.runs)
    per_post(signers, args.runs)
    if args.signatures_only:
        return
    header = f"| {'kind':<7} | {'signing':<7} | {'recipients':>10} | {'seal ms':>8} |"
    header += f" {'open ms':>8} |"
    header += f" {'verify ms':>9} | {'envelope bytes':>14} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")

    for kind in KINDS:
        pool = [EncryptionPrivateKey.generate(kind) for _ in range(max(COUNTS))]  # type: ignore[arg-type]
        for (skind, signer), n in itertools.product(signers.items(), COUNTS):
            resolve = {signer.kid: signer.public}.get
            keys = pool[:n]
            publics = [k.public for k in keys]
            b = bulletin()
            env = seal(b, signer, publics)
            me = keys[n // 2]
            seal_ms = median_ms(lambda: seal(b, signer, publics), args.runs)  # noqa: B023
            resolve_now = resolve
            open_ms = median_ms(
                lambda: open_envelope(
                    env,  # noqa: B023
                    resolve_now,  # noqa: B023
                    party="P",
                    key=me,  # noqa: B023
                    audience=lambda _m: {"P"},
                ),
                args.runs,
            )
            verify_ms = median_ms(lambda: verify_envelope(env, resolve_now), args.runs)  # noqa: B023
            print(
                f"| {kind:<7} | {skind:<7} | {n:>10} | {seal_ms:>8.2f} | {open_ms:>8.2f} |"
                f" {verify_ms:>9.2f} | {len(env):>14,} |"
            )


if __name__ == "__main__":
    main()
