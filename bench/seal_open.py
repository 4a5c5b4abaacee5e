"""Seal, open and server-verify timings for the envelope (PROTOCOL §3).

Run: ``python bench/seal_open.py [--runs N]``.  Prints the machine, then one row per
recipient count and key kind with the median of N runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import cryptography

from exchange.crypto import (
    Ed25519Signer,
    EncryptionPrivateKey,
    open_envelope,
    seal,
    verify_envelope,
)

COUNTS = (6, 50, 193)
KINDS = ("hybrid", "x25519")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    print(f"platform:     {platform.platform()}")
    print(f"cpu:          {cpu_model()}")
    print(f"cores:        {os.cpu_count()}")
    print(f"python:       {platform.python_version()}")
    print(f"cryptography: {cryptography.__version__}")
    print(f"runs:         median of {args.runs}, bulletin body ~2 KiB")
    print()
    header = f"| {'kind':<7} | {'recipients':>10} | {'seal ms':>8} | {'open ms':>8} |"
    header += f" {'verify ms':>9} | {'envelope bytes':>14} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")

    signer = Ed25519Signer.generate()
    resolve = {signer.kid: signer.public}.get
    for kind in KINDS:
        pool = [EncryptionPrivateKey.generate(kind) for _ in range(max(COUNTS))]  # type: ignore[arg-type]
        for n in COUNTS:
            keys = pool[:n]
            publics = [k.public for k in keys]
            b = bulletin()
            env = seal(b, signer, publics)
            me = keys[n // 2]
            seal_ms = median_ms(lambda: seal(b, signer, publics), args.runs)  # noqa: B023
            open_ms = median_ms(
                lambda: open_envelope(
                    env,  # noqa: B023
                    resolve,
                    party="P",
                    key=me,  # noqa: B023
                    audience=lambda _m: {"P"},
                ),
                args.runs,
            )
            verify_ms = median_ms(lambda: verify_envelope(env, resolve), args.runs)  # noqa: B023
            print(
                f"| {kind:<7} | {n:>10} | {seal_ms:>8.2f} | {open_ms:>8.2f} |"
                f" {verify_ms:>9.2f} | {len(env):>14,} |"
            )


if __name__ == "__main__":
    main()
