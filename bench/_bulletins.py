"""Bulletins for the benchmarks: a valid ~1.5 KiB threat assessment, sealed on every
core, and pre-signed request tokens (bench/post.lua reads them from a file)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _parties import Party
from _servers import EXCHANGE_ID

from exchange.crypto import tokens
from exchange.crypto.keys import (
    Ed25519Signer,
    parse_encryption_jwk,
    signer_from_jwk,
)

_SUMMARY = (
    "Credible reporting indicates that a small group has acquired at least one "
    "man-portable air-defence system and has shown interest in flights approaching and "
    "departing the capital's international airport during the coming fortnight. "
)


def bulletin(iss: str, groups: Sequence[str], *, now: int, n: int = 0) -> dict[str, Any]:
    """A valid threat assessment of about 1.5 KiB of JSON (docs/bulletins.md)."""
    return {
        "v": 1,
        "bid": str(uuid.uuid4()),
        "iss": iss,
        "groups": list(groups),
        "to": [],
        "type": "threat-assessment",
        "priority": "immediate",
        "tlp": "amber",
        "iat": now,
        "exp": now + 7 * 86400,
        "supersedes": None,
        "title": f"Benchmark threat assessment {n}",
        "lang": "en",
        "body": {
            "summary": _SUMMARY * 3,
            "threat_level": "substantial",
            "categories": ["manpads", "uas"],
            "locations": ["UAAA", "UACC", "UTTT", "UBBB"],
            "valid_from": now,
            "valid_until": now + 7 * 86400,
            "confidence": "moderate",
            "sources": ["National security service liaison report"],
            "recommendations": [
                "Intensify patrols of the approach and departure corridors.",
                "Brief flight crews on MANPADS-aware departure and arrival procedures.",
            ],
        },
    }


_POOL_KEYS: dict[str, Any] = {}


def _pool_init(signers: dict[str, dict[str, str]], enc: dict[str, dict[str, str]]) -> None:
    _POOL_KEYS["signers"] = {cid: signer_from_jwk(j) for cid, j in signers.items()}
    _POOL_KEYS["enc"] = {pid: parse_encryption_jwk(j) for pid, j in enc.items()}


def _seal_job(job: tuple[dict[str, Any], str, list[str]]) -> str:
    from exchange.crypto.envelope import seal

    b, cid, recipients = job
    keys = _POOL_KEYS["enc"]
    return seal(b, _POOL_KEYS["signers"][cid], [keys[r] for r in recipients])


def seal_many(
    parties: Sequence[Party],
    jobs: Sequence[tuple[dict[str, Any], str, list[str]]],
    workers: int | None = None,
) -> list[str]:
    """Seal (bulletin, sender client id, recipient parties) jobs on every core."""
    signers = {cid: s.to_private_jwk() for p in parties for cid, s in p.clients}
    enc = {p.id: p.enc.public.to_jwk() for p in parties}
    with ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        initializer=_pool_init,
        initargs=(signers, enc),
    ) as pool:
        return list(pool.map(_seal_job, jobs, chunksize=16))


def token(signer: Ed25519Signer, client_id: str, method: str, path: str, body: bytes | None) -> str:
    """A fresh single-use request token (PROTOCOL §6), valid for 300 s."""
    return tokens.make_request_token(
        signer,
        client_id=client_id,
        aud=EXCHANGE_ID,
        method=method,
        path=path,
        body=body,
        now=int(time.time()),
        lifetime=300,
    )


def write_requests(path: Path, posts: Sequence[tuple[str, Ed25519Signer, str]]) -> int:
    """One line per POST /v1/bulletins: ``token<TAB>envelope``, for bench/post.lua. Each
    token is fresh (its own jti and body hash). Returns the file size in bytes."""
    with open(path, "w", encoding="ascii") as f:
        for cid, signer, envelope in posts:
            t = token(signer, cid, "POST", "/v1/bulletins", envelope.encode("ascii"))
            f.write(f"{t}\t{envelope}\n")
    return path.stat().st_size
