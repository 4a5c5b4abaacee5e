"""Helpers for the API security tests: hand-made request tokens (every header and claim
under the test's control) and raw HTTP calls whose path is sent byte for byte."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from exchange.bulletin.validate import new_bulletin
from exchange.config import Limits
from exchange.crypto import b64u_encode
from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey, EncryptionPublicKey

PROBLEM_MEMBERS = ("type", "title", "status", "detail")

#: high enough that no table of requests from one client trips the rate limit
GENEROUS = Limits(rate_per_second=100_000.0, rate_burst=100_000)

#: ``make_harness(limits=Limits(...))`` -> (harness, wire, admin)
HarnessFactory = Callable[..., Awaitable[tuple[Any, "Wire", "Caller"]]]
DROP = object()  # a claim or header value that means "leave this member out"


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    data: Any
    raw: bytes
    content_type: str

    @property
    def problem_type(self) -> str | None:
        return self.data.get("type") if isinstance(self.data, dict) else None


def assert_problem(r: Reply, status: int, code: str | None = None) -> None:
    """An RFC 9457 problem of ``status`` (and ``urn:avsec:error:<code>`` when given)."""
    assert r.status == status, (r.status, r.raw[:300])
    assert r.content_type == "application/problem+json", r.content_type
    assert isinstance(r.data, dict), r.raw[:300]
    for member in PROBLEM_MEMBERS:
        assert member in r.data, (member, r.data)
    assert isinstance(r.data["type"], str) and r.data["type"].startswith("urn:avsec:error:")
    assert isinstance(r.data["title"], str) and r.data["title"]
    assert isinstance(r.data["detail"], str)
    assert r.data["status"] == status
    if code is not None:
        assert r.data["type"] == f"urn:avsec:error:{code}", r.data
    assert b"Traceback" not in r.raw


def new_jti() -> str:
    return b64u_encode(os.urandom(16))


def body_hash(body: bytes) -> str:
    return b64u_encode(hashlib.sha256(body).digest())


def claims_for(
    client_id: str,
    *,
    aud: str,
    method: str,
    path: str,
    body: bytes | None,
    now: int | None = None,
    lifetime: int = 60,
) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    c: dict[str, Any] = {
        "iss": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": new_jti(),
        "htm": method,
        "htu": path.split("?", 1)[0],
    }
    if body:
        c["bsh"] = body_hash(body)
    return c


def compact(
    header: Mapping[str, Any] | bytes,
    claims: Mapping[str, Any] | bytes,
    *,
    signer: Ed25519Signer | None = None,
    hmac_key: bytes | None = None,
    signature: bytes | None = None,
) -> str:
    """A compact JWS over exactly these header and payload bytes (members set to
    ``DROP`` are left out), signed by ``signer``, or HMAC-SHA256 with ``hmac_key``, or
    carrying ``signature`` as is."""

    def enc(part: Mapping[str, Any] | bytes) -> bytes:
        if isinstance(part, bytes):
            return part
        kept = {k: v for k, v in part.items() if v is not DROP}
        return json.dumps(kept, separators=(",", ":")).encode()

    signing_input = f"{b64u_encode(enc(header))}.{b64u_encode(enc(claims))}".encode()
    if signature is None:
        if hmac_key is not None:
            signature = hmac.new(hmac_key, signing_input, hashlib.sha256).digest()
        elif signer is not None:
            signature = signer.sign(signing_input)
        else:
            signature = b""
    return f"{signing_input.decode()}.{b64u_encode(signature)}"


def token(
    signer: Ed25519Signer,
    client_id: str,
    *,
    aud: str,
    method: str,
    path: str,
    body: bytes | None = None,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | None = None,
    now: int | None = None,
) -> str:
    """A well-formed request token, with ``header``/``claims`` overrides applied."""
    h: dict[str, Any] = {"alg": signer.alg, "typ": "avsec-req+jwt", "kid": signer.kid}
    h.update(header or {})
    c = claims_for(client_id, aud=aud, method=method, path=path, body=body, now=now)
    c.update(claims or {})
    return compact(h, c, signer=signer)


def bulletin(iss: str, **kw: Any) -> dict[str, Any]:
    """A valid threat assessment from ``iss``; ``kw`` overrides ``new_bulletin``'s arguments."""
    now = int(time.time())
    args: dict[str, Any] = {
        "iss": iss,
        "type": "threat-assessment",
        "title": "MANPADS threat UAAA",
        "body": {
            "summary": "Credible reporting of MANPADS near Almaty approach",
            "threat_level": "substantial",
            "categories": ["manpads"],
            "locations": ["UAAA"],
            "valid_from": now,
            "valid_until": now + 86400,
        },
        "now": now,
        "priority": "immediate",
        "tlp": "amber",
    }
    args.update(kw)
    return new_bulletin(**args)


@dataclass
class Caller:
    """One registered client: its id and signing key."""

    client_id: str
    signer: Ed25519Signer
    party: str = field(init=False)

    def __post_init__(self) -> None:
        self.party = self.client_id.split("/", 1)[0]


class Wire:
    """Raw HTTP to one server, with the path sent exactly as given (no re-quoting)."""

    def __init__(self, base_url: str, exchange_id: str) -> None:
        self.base_url = base_url
        self.aud = exchange_id
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        bearer: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        h = {"Content-Type": content_type} if body is not None else {}
        if bearer is not None:
            h["Authorization"] = f"Bearer {bearer}"
        h.update(headers or {})
        url = URL(self.base_url + path, encoded=True)
        data: bytes | io.BytesIO | None = body
        if body is not None and len(body) > 1024 * 1024:
            data = io.BytesIO(body)  # aiohttp warns on large raw bytes
        async with self.session.request(method, url, data=data, headers=h) as r:
            raw = await r.read()
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = raw
            return Reply(r.status, r.headers, data, raw, r.content_type)

    async def call(
        self,
        who: Caller,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: bytes | None = None,
        **kw: Any,
    ) -> Reply:
        """A correctly signed request from ``who``; ``body`` is sent as JSON."""
        data = (
            raw_body
            if raw_body is not None
            else (None if body is None else json.dumps(body).encode())
        )
        tok = token(who.signer, who.client_id, aud=self.aud, method=method, path=path, body=data)
        return await self.send(method, path, body=data, bearer=tok, **kw)


@dataclass
class World:
    """A running server shared by the tests of one module, and ways to populate it."""

    h: Any  # support.Harness
    wire: Wire
    admin: Caller

    async def party(self, pid: str, *, kind: str = "state", name: str | None = None) -> None:
        r = await self.wire.call(
            self.admin, "POST", "/v1/admin/parties", {"id": pid, "name": name or pid, "kind": kind}
        )
        assert r.status == 201, r.raw

    async def client(self, party: str, name: str, roles: tuple[str, ...]) -> Caller:
        """Register ``party/name`` with ``roles``. The API refuses an empty role list, so a
        client with no role is written to the store the way the API would write it."""
        signer = Ed25519Signer.generate()
        cid = f"{party}/{name}"
        if roles:
            body = {"id": cid, "party": party, "roles": list(roles), "jwk": signer.public.to_jwk()}
            r = await self.wire.call(self.admin, "POST", "/v1/admin/clients", body)
            assert r.status == 201, r.raw
        else:
            from exchange.store import parties as party_store

            ex = self.h.server.exchange
            now = ex.clock.ms()

            def change(conn: Any) -> None:
                party_store.add_client(
                    conn,
                    id=cid,
                    party=party,
                    kid=signer.kid,
                    jwk=signer.public.to_jwk(),
                    roles=frozenset(),
                    now=now,
                )
                ex.directory.record_change(
                    conn, "add-client", {"client": cid, "kid": signer.kid, "roles": []}
                )

            await ex.directory.write(change)
        return Caller(cid, signer)

    async def encryption_key(self, party: str) -> EncryptionPublicKey:
        """A new X25519 key registered for ``party``; its public half, to seal to."""
        key = EncryptionPrivateKey.generate("x25519")
        r = await self.wire.call(
            self.admin,
            "POST",
            f"/v1/admin/parties/{party}/encryption-keys",
            {"jwk": key.public.to_jwk()},
        )
        assert r.status == 201, r.raw
        return key.public

    async def group(self, gid: str, members: Mapping[str, str]) -> None:
        r = await self.wire.call(self.admin, "POST", "/v1/admin/groups", {"id": gid, "name": gid})
        assert r.status == 201, r.raw
        for party, role in members.items():
            r = await self.wire.call(
                self.admin, "PUT", f"/v1/admin/groups/{gid}/members/{party}", {"role": role}
            )
            assert r.status == 200, r.raw

    async def directory(self, who: Caller | None = None) -> dict[str, Any]:
        """The directory payload (the signature is checked in test_directory.py)."""
        from exchange.crypto import b64u_decode

        r = await self.wire.call(who or self.admin, "GET", "/v1/directory")
        assert r.status == 200, r.raw
        payload = r.data["directory"].split(".")[1]
        doc: dict[str, Any] = json.loads(b64u_decode(payload))
        return doc

    async def version(self) -> int:
        return int((await self.directory())["version"])
