"""A small exchange to hammer: a few States in one group, each with a poster+reader
client and a classical X25519 encryption key (sealing is fast), pre-sealed envelopes,
and raw signed requests (PROTOCOL §6) without the SDK's retries or checks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from exchange.bulletin.validate import new_bulletin
from exchange.client import ExchangeClient
from exchange.crypto import tokens
from exchange.crypto.envelope import seal
from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey

__all__ = ["Party", "World", "advisory", "signed_request"]


def advisory(iss: str, group: str, i: int, *, now: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    return new_bulletin(
        iss=iss,
        type="advisory",
        title=f"advisory {i}",
        body={"summary": f"item {i}"},
        now=now,
        groups=[group],
        priority="routine",
        tlp="green",
    )


async def signed_request(
    session: aiohttp.ClientSession,
    url: str,
    method: str,
    path: str,
    *,
    client_id: str,
    signer: Ed25519Signer,
    exchange_id: str,
    body: bytes | None = None,
    content_type: str | None = None,
    params: Mapping[str, str | int] | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    """One request with a fresh token; returns (status, JSON or bytes, headers)."""
    token = tokens.make_request_token(
        signer,
        client_id=client_id,
        aud=exchange_id,
        method=method,
        path=path,
        body=body,
        now=int(time.time()),
    )
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    async with session.request(method, url + path, data=body, headers=headers, params=params) as r:
        raw = await r.read()
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = raw
        return r.status, data, r.headers


@dataclass
class Party:
    id: str
    client_id: str
    signer: Ed25519Signer
    enc: EncryptionPrivateKey


@dataclass
class World:
    url: str
    exchange_id: str
    admin: ExchangeClient
    group: str = "grp"
    parties: dict[str, Party] = field(default_factory=dict)

    @classmethod
    async def build(
        cls, admin_profile: Path, party_ids: Iterable[str], *, group: str = "grp"
    ) -> World:
        admin = ExchangeClient.from_profile(admin_profile, verify_log=False)
        w = cls(admin.server_url, admin.exchange_id, admin, group)
        await admin.admin("POST", "/v1/admin/groups", {"id": group, "name": group})
        for pid in party_ids:
            await w.enrol(pid)
        return w

    async def enrol(self, pid: str, *, roles: tuple[str, ...] = ("poster", "reader")) -> Party:
        a = self.admin
        await a.admin("POST", "/v1/admin/parties", {"id": pid, "name": pid, "kind": "state"})
        signer = Ed25519Signer.generate()
        cid = f"{pid}/ops"
        await a.admin(
            "POST",
            "/v1/admin/clients",
            {"id": cid, "party": pid, "roles": list(roles), "jwk": signer.public.to_jwk()},
        )
        enc = EncryptionPrivateKey.generate("x25519")
        await a.admin(
            "POST", f"/v1/admin/parties/{pid}/encryption-keys", {"jwk": enc.public.to_jwk()}
        )
        await a.admin("PUT", f"/v1/admin/groups/{self.group}/members/{pid}", {"role": "member"})
        p = self.parties[pid] = Party(pid, cid, signer, enc)
        return p

    async def add_client(self, pid: str, name: str, roles: tuple[str, ...]) -> Ed25519Signer:
        signer = Ed25519Signer.generate()
        await self.admin.admin(
            "POST",
            "/v1/admin/clients",
            {
                "id": f"{pid}/{name}",
                "party": pid,
                "roles": list(roles),
                "jwk": signer.public.to_jwk(),
            },
        )
        return signer

    def sdk(self, pid: str, **kw: Any) -> ExchangeClient:
        p = self.parties[pid]
        kw.setdefault("verify_log", False)
        return ExchangeClient(
            server_url=self.url,
            client_id=p.client_id,
            exchange_id=self.exchange_id,
            signer=p.signer,
            server_kid=self.admin.server_kid,
            encryption_key=p.enc,
            **kw,
        )

    def seal(self, sender: str, i: int) -> tuple[str, dict[str, Any]]:
        """An advisory from ``sender`` to the group, sealed to every other member."""
        b = advisory(sender, self.group, i)
        keys = [p.enc.public for pid, p in sorted(self.parties.items()) if pid != sender]
        return seal(b, self.parties[sender].signer, keys), b

    async def call(
        self,
        session: aiohttp.ClientSession,
        pid: str,
        method: str,
        path: str,
        **kw: Any,
    ) -> tuple[int, Any, Mapping[str, str]]:
        p = self.parties[pid]
        return await signed_request(
            session,
            self.url,
            method,
            path,
            client_id=p.client_id,
            signer=p.signer,
            exchange_id=self.exchange_id,
            **kw,
        )

    async def post(
        self, session: aiohttp.ClientSession, sender: str, envelope: str
    ) -> tuple[int, Any, Mapping[str, str]]:
        return await self.call(
            session,
            sender,
            "POST",
            "/v1/bulletins",
            body=envelope.encode(),
            content_type="application/jose",
        )

    async def inbox(self, session: aiohttp.ClientSession, pid: str) -> list[dict[str, Any]]:
        """Every item of ``pid``'s inbox, page by page."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            status, data, _ = await self.call(
                session, pid, "GET", "/v1/inbox", params={"after": after, "limit": 1000}
            )
            assert status == 200, (status, data)
            items.extend(data["items"])
            if not data["items"]:
                return items
            after = data["next"]

    async def close(self) -> None:
        await self.admin.close()
