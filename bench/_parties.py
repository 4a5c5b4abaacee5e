"""Parties the benchmark holds every private key of, and their enrolment through the
admin API (audited, as in production)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.client import ExchangeClient
from exchange.crypto.keys import (
    Ed25519Signer,
    EncryptionPrivateKey,
    signer_from_jwk,
)
from exchange.keyfiles import read_json, read_profile


@dataclass
class Party:
    """A party the benchmark holds every private key of."""

    id: str
    enc: EncryptionPrivateKey
    clients: list[tuple[str, Ed25519Signer]] = field(default_factory=list)
    roles: tuple[str, ...] = ("poster", "reader")

    @staticmethod
    def make(pid: str, n_clients: int = 1, kind: str = "hybrid") -> Party:
        p = Party(pid, EncryptionPrivateKey.generate(kind))  # type: ignore[arg-type]
        p.clients = [(f"{pid}/ops{i}", Ed25519Signer.generate()) for i in range(n_clients)]
        return p


def admin_client(workdir: Path, url: str) -> ExchangeClient:
    folder = workdir / "keys" / "OPERATOR" / "admin"
    profile = read_profile(folder)
    return ExchangeClient(
        server_url=url,
        client_id=profile.client_id,
        exchange_id=profile.exchange_id,
        signer=signer_from_jwk(read_json(folder / "signing.jwk")),
        server_kid=profile.server_kid,
        verify_log=False,
    )


async def _gather_limited(coros: Iterable[Any], limit: int = 8) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> None:
        async with sem:
            await c

    await asyncio.gather(*(one(c) for c in coros))


async def enrol(
    workdir: Path,
    url: str,
    parties: Sequence[Party],
    groups: dict[str, dict[str, str]],
) -> float:
    """Register parties, their clients and encryption keys, then groups and members,
    through the admin API (each change is audited, as in production). Returns seconds."""
    t0 = time.perf_counter()
    admin = admin_client(workdir, url)
    try:
        await _gather_limited(
            admin.admin("POST", "/v1/admin/parties", {"id": p.id, "name": p.id, "kind": "state"})
            for p in parties
        )
        jobs = []
        for p in parties:
            for cid, signer in p.clients:
                body = {
                    "id": cid,
                    "party": p.id,
                    "roles": list(p.roles),
                    "jwk": signer.public.to_jwk(),
                }
                jobs.append(admin.admin("POST", "/v1/admin/clients", body))
            jobs.append(
                admin.admin(
                    "POST",
                    f"/v1/admin/parties/{p.id}/encryption-keys",
                    {"jwk": p.enc.public.to_jwk()},
                )
            )
        await _gather_limited(jobs)
        await _gather_limited(
            admin.admin("POST", "/v1/admin/groups", {"id": gid, "name": gid}) for gid in groups
        )
        await _gather_limited(
            admin.admin("PUT", f"/v1/admin/groups/{gid}/members/{party}", {"role": role})
            for gid, members in groups.items()
            for party, role in members.items()
        )
    finally:
        await admin.close()
    return time.perf_counter() - t0
