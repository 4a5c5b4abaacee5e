"""Test support: a real server on a loopback port, and helpers to enrol parties and to
make signed requests (the equivalent of Synapse's make_signed_federation_request)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from exchange.client import ExchangeClient
from exchange.config import ServerConfig
from exchange.crypto import tokens
from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey, signer_from_jwk
from exchange.keyfiles import read_profile
from exchange.node import RunningServer, init, open_exchange, start

CAC = ("AZ", "GE", "KG", "KZ", "TJ", "UZ")
CAC_NAMES = {
    "AZ": "Azerbaijan State Civil Aviation Agency",
    "GE": "Georgian Civil Aviation Agency",
    "KG": "Civil Aviation Agency of Kyrgyzstan",
    "KZ": "Civil Aviation Committee of Kazakhstan",
    "TJ": "Civil Aviation Agency of Tajikistan",
    "UZ": "Civil Aviation Agency of Uzbekistan",
}


@dataclass
class Member:
    """A party enrolled for a test: its clients' SDKs and keys."""

    party: str
    client: ExchangeClient
    signer: Ed25519Signer
    enc: EncryptionPrivateKey | None


@dataclass
class Harness:
    server: RunningServer
    admin: ExchangeClient
    keys_dir: Path
    members: dict[str, Member] = field(default_factory=dict)
    _clients: list[ExchangeClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def exchange_id(self) -> str:
        return self.server.exchange.config.exchange_id

    def client(
        self, client_id: str, signer: Ed25519Signer, enc: EncryptionPrivateKey | None = None
    ) -> ExchangeClient:
        c = ExchangeClient(
            server_url=self.url,
            client_id=client_id,
            exchange_id=self.exchange_id,
            signer=signer,
            server_kid=self.admin.server_kid,
            encryption_key=enc,
        )
        self._clients.append(c)
        return c

    async def enrol(
        self,
        party: str,
        *,
        kind: str = "state",
        roles: tuple[str, ...] = ("poster", "reader"),
        key_kind: str = "hybrid",
        name: str = "ops",
        encryption: bool = True,
    ) -> Member:
        await self.admin.admin(
            "POST",
            "/v1/admin/parties",
            {"id": party, "name": CAC_NAMES.get(party, party), "kind": kind},
        )
        signer = Ed25519Signer.generate()
        cid = f"{party}/{name}"
        await self.admin.admin(
            "POST",
            "/v1/admin/clients",
            {"id": cid, "party": party, "roles": list(roles), "jwk": signer.public.to_jwk()},
        )
        enc = None
        if encryption:
            enc = EncryptionPrivateKey.generate(key_kind)  # type: ignore[arg-type]
            await self.admin.admin(
                "POST", f"/v1/admin/parties/{party}/encryption-keys", {"jwk": enc.public.to_jwk()}
            )
        m = Member(party, self.client(cid, signer, enc), signer, enc)
        self.members[party] = m
        return m

    async def add_client(
        self,
        party: str,
        name: str,
        roles: tuple[str, ...],
        *,
        enc: EncryptionPrivateKey | None = None,
    ) -> ExchangeClient:
        signer = Ed25519Signer.generate()
        cid = f"{party}/{name}"
        await self.admin.admin(
            "POST",
            "/v1/admin/clients",
            {"id": cid, "party": party, "roles": list(roles), "jwk": signer.public.to_jwk()},
        )
        return self.client(cid, signer, enc)

    async def group(self, gid: str, members: Mapping[str, str], name: str | None = None) -> None:
        await self.admin.admin("POST", "/v1/admin/groups", {"id": gid, "name": name or gid})
        for party, role in members.items():
            await self.admin.admin("PUT", f"/v1/admin/groups/{gid}/members/{party}", {"role": role})

    async def cac(self, *, observer: bool = True) -> dict[str, Member]:
        """The six Central Asia/Caucasus States in cac-avsec, KZ chair, ICAO observer."""
        for p in CAC:
            await self.enrol(p)
        roles = {p: ("chair" if p == "KZ" else "member") for p in CAC}
        if observer:
            await self.enrol("ICAO", kind="organization")
            roles["ICAO"] = "observer"
        await self.group("cac-avsec", roles, "Central Asia/Caucasus AVSEC Coordinating Group")
        return self.members

    async def raw(
        self,
        method: str,
        path: str,
        *,
        client_id: str,
        signer: Ed25519Signer,
        body: bytes | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **claims_kw: Any,
    ) -> tuple[int, Any]:
        """One request with full control of the token, for attack tables."""
        if token is None:
            token = tokens.make_request_token(
                signer,
                client_id=client_id,
                aud=self.exchange_id,
                method=method,
                path=path.split("?", 1)[0],
                body=body,
                now=int(time.time()),
                **claims_kw,
            )
        h = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        h.update(headers or {})
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.url + path, data=body, headers=h) as r,
        ):
            raw = await r.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw
            if r.status >= 400:
                assert r.content_type == "application/problem+json", (r.status, raw[:200])
            return r.status, data

    async def close(self) -> None:
        for c in self._clients:
            await c.close()
        await self.admin.close()
        await self.server.stop()


async def start_harness(
    tmp: Path, db_url: str, *, signing: str = "hybrid", **config: Any
) -> Harness:
    """``signing``: the kind of the server's and admin's keys (``exchange init --ed25519``)."""
    cfg = ServerConfig(db_url=db_url, keys_dir=tmp / "keys", exchange_id="test-exchange", **config)
    folder = await init(cfg, signing=signing)
    ex = await open_exchange(cfg)
    server = await start(ex)
    profile = read_profile(folder)
    admin = ExchangeClient(
        server_url=server.url,
        client_id=profile.client_id,
        exchange_id=profile.exchange_id,
        signer=signer_from_jwk(json.loads((folder / "signing.jwk").read_text())),
        server_kid=profile.server_kid,
    )
    h = Harness(server, admin, cfg.keys_dir)
    h._clients = []
    return h
