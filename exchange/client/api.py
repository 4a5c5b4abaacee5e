"""``ExchangeClient``: one client credential talking to one exchange."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from exchange.bulletin.validate import validate_bulletin
from exchange.client._problems import error_from_problem
from exchange.client.audit import LogMonitor
from exchange.client.directory import Directory, parse_directory
from exchange.crypto import jws, tokens
from exchange.crypto._b64 import b64u_encode
from exchange.crypto.envelope import OpenedBulletin, open_envelope, seal, verify_envelope
from exchange.crypto.keys import (
    EncryptionPrivateKey,
    Signer,
    SigningPublicKey,
    parse_signing_jwk,
)
from exchange.errors import (
    AuthError,
    BadSignature,
    ExchangeError,
    Forbidden,
    InputError,
    LogInconsistent,
    NotARecipient,
    NotFound,
    RecipientMismatch,
    StorageError,
)
from exchange.keyfiles import Profile, read_json, read_profile
from exchange.keystore import load_signer
from exchange.routing import audience, recipients

__all__ = ["ExchangeClient", "Receipt"]

#: a refused stream handshake that retrying cannot fix (429 and 5xx are retried)
_HANDSHAKE_REFUSALS: dict[int, type[ExchangeError]] = {
    400: InputError,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
}


@dataclass(frozen=True)
class Receipt:
    """A verified server receipt (PROTOCOL §7)."""

    token: str
    bid: str
    seq: int
    iss: str
    recipients: tuple[str, ...]
    envelope_sha256: str
    accepted_at: str
    log_index: int
    created: bool


class ExchangeClient:
    def __init__(
        self,
        *,
        server_url: str,
        client_id: str,
        exchange_id: str,
        signer: Signer,
        server_kid: str | None = None,
        encryption_key: EncryptionPrivateKey | None = None,
        timeout: float = 30.0,
        verify_log: bool = True,
        sth_file: Path | None = None,
        retired_keys: list[EncryptionPrivateKey] | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.client_id = client_id
        self.party = client_id.split("/", 1)[0]
        self.exchange_id = exchange_id
        self.signer = signer
        self.server_kid = server_kid
        self.encryption_key = encryption_key
        self.retired_keys = list(retired_keys or [])
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server_key: SigningPublicKey | None = None
        self._directory: Directory | None = None
        #: PROTOCOL §8: the directory used for sealing, and each receipt, are checked
        #: against the audit log; tree heads only move forward with consistency proofs.
        self.log: LogMonitor | None = LogMonitor(self, sth_file) if verify_log else None

    @classmethod
    def from_profile(cls, folder: str | Path, **kw: Any) -> ExchangeClient:
        folder = Path(folder)
        profile: Profile = read_profile(folder)
        signer = load_signer(folder / "signing.jwk")
        enc_path = folder / "encryption.jwk"
        enc = EncryptionPrivateKey.from_jwk(read_json(enc_path)) if enc_path.exists() else None
        kw.setdefault("sth_file", folder / "sth.jws")
        # the party's retired keys, kept so that bulletins sealed to them stay readable
        kw.setdefault(
            "retired_keys",
            [EncryptionPrivateKey.from_jwk(read_json(p)) for p in folder.glob("retired/*.jwk")],
        )
        return cls(
            server_url=profile.server_url,
            client_id=profile.client_id,
            exchange_id=profile.exchange_id,
            signer=signer,
            server_kid=profile.server_kid or None,
            encryption_key=enc,
            **kw,
        )

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    # --- transport ----------------------------------------------------------------------

    def token(self, method: str, path: str, body: bytes | None = None) -> str:
        return tokens.make_request_token(
            self.signer,
            client_id=self.client_id,
            aud=self.exchange_id,
            method=method,
            path=path,
            body=body,
            now=int(time.time()),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        params: Mapping[str, str | int] | None = None,
        auth: bool = True,
    ) -> tuple[int, Any]:
        """Send one signed request; problem+json answers raise the matching error.
        The first signed request checks the server key against the pinned kid, so that
        no command talks to (or sends a token to) a server that is not the pinned one."""
        if auth and self._server_key is None and self.server_kid is not None:
            await self.server_key()
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if auth:
            headers["Authorization"] = "Bearer " + self.token(method, path, body)
        try:
            async with self.session.request(
                method, self.server_url + path, data=body, headers=headers, params=params
            ) as resp:
                raw = await resp.read()
                status = resp.status
                ctype = resp.content_type
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StorageError(f"cannot reach {self.server_url}: {exc}") from exc
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status >= 400:
            raise error_from_problem(status, data if ctype == "application/problem+json" else {})
        return status, data

    # --- trust anchors --------------------------------------------------------------------

    async def server_key(self) -> SigningPublicKey:
        """The server's signing key; its kid must be the pinned one (PROTOCOL §7)."""
        if self._server_key is None:
            _, jwk = await self.request("GET", "/v1/server-key", auth=False)
            key = parse_signing_jwk(jwk)
            if self.server_kid is not None and key.kid != self.server_kid:
                raise BadSignature(
                    f"the server at {self.server_url} has key {key.kid}, but this profile "
                    f"pinned {self.server_kid}: refusing to talk to it (ask the operator "
                    "whether the server key changed)"
                )
            self.server_kid = key.kid
            self._server_key = key
        return self._server_key

    async def directory(self, *, refresh: bool = False) -> Directory:
        if self._directory is None or refresh:
            _, data = await self.request("GET", "/v1/directory")
            d = parse_directory(data["directory"], await self.server_key())
            if self._directory is not None and d.version < self._directory.version:
                raise BadSignature("the directory version went backwards")
            if self.log is not None:
                await self.log.check_directory(d)
            self._directory = d
        return self._directory

    # --- bulletins ------------------------------------------------------------------------

    async def seal(self, bulletin: Mapping[str, Any], *, refresh: bool = False) -> str:
        validate_bulletin(dict(bulletin))
        if bulletin["iss"] != self.party:
            raise InputError(f"iss must be this client's party {self.party}")
        d = await self.directory(refresh=refresh)
        parties = recipients(bulletin, self.party, d.view)
        return seal(bulletin, self.signer, d.keys_for(parties))

    async def post(self, bulletin: Mapping[str, Any]) -> Receipt:
        """Seal to the current recipients and post; after a membership or key change the
        server answers 422 and the bulletin is re-sealed once to the fresh directory."""
        for attempt in range(2):
            envelope = await self.seal(bulletin, refresh=attempt > 0)
            try:
                return await self.post_envelope(envelope)
            except RecipientMismatch:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_envelope(self, envelope: str) -> Receipt:
        status, data = await self.request(
            "POST", "/v1/bulletins", body=envelope.encode(), content_type="application/jose"
        )
        receipt = await self.verify_receipt(data["receipt"])
        expected = b64u_encode(hashlib.sha256(envelope.encode()).digest())
        if receipt.envelope_sha256 != expected:
            raise BadSignature("the receipt is for another envelope")
        if self.log is not None:
            await self.log.check_receipt(receipt)
        return Receipt(**{**receipt.__dict__, "created": status == 201})

    async def verify_receipt(self, token: str) -> Receipt:
        key = await self.server_key()
        v = jws.verify_compact(token, lambda k: key if k == key.kid else None, jws.TYP_RECEIPT)
        p = json.loads(v.payload)
        return Receipt(
            token=token,
            bid=p["bid"],
            seq=p["seq"],
            iss=p["iss"],
            recipients=tuple(p["recipients"]),
            envelope_sha256=p["envelope_sha256"],
            accepted_at=p["accepted_at"],
            log_index=p["log_index"],
            created=True,
        )

    async def open(self, envelope: str) -> OpenedBulletin:
        """Verify and decrypt with this party's key; every check of PROTOCOL §3."""
        if self.encryption_key is None:
            raise InputError("this profile holds no encryption key (encryption.jwk)")
        key = self.encryption_key
        if self.retired_keys:  # sealed to which of our keys? (no decryption needed)
            with contextlib.suppress(ExchangeError):
                signer_of = (await self.directory()).signing_key
                info = await asyncio.to_thread(verify_envelope, envelope, signer_of)
                kids = info.recipient_kids
                key = next((k for k in (key, *self.retired_keys) if k.kid in kids), key)
        try:
            return await self._open(envelope, key, await self.directory())
        except (ExchangeError, KeyError):
            pass  # the sender or membership may be newer than our copy of the directory
        d = await self.directory(refresh=True)
        try:
            return await self._open(envelope, key, d)
        except NotARecipient as refused:
            # The audience is computed on today's directory; a membership or subscription
            # that changed since admission would lock us out of what we were sent. The
            # log entry made at admission names who it was routed to (PROTOCOL §8).
            try:
                admitted = await self._admitted_to(envelope, d)
            except ExchangeError:
                raise refused from None  # never admitted for us (or not provably so)
            if self.party not in admitted:
                raise
            return await self._open(envelope, key, d, admitted)

    async def _admitted_to(self, envelope: str, d: Directory) -> frozenset[str]:
        """The recipients the server logged for this very envelope at admission."""
        info = await asyncio.to_thread(verify_envelope, envelope, d.signing_key)
        bid = str(info.metadata["bid"])
        _, data = await self.request("GET", f"/v1/bulletins/{bid}")
        index = data.get("log_index") if isinstance(data, dict) else None
        if not isinstance(index, int):
            raise LogInconsistent("the bulletin names no log entry")
        if self.log is not None:
            entry = await self.log.check_included(index, committed=True)
        else:
            entry = await LogMonitor(self).opened_entry(index)  # opened: issue 17
        digest = b64u_encode(info.sha256)
        if (
            not isinstance(entry, dict)
            or entry.get("kind") != "bulletin"
            or entry.get("bid") != bid
            or entry.get("envelope_sha256") != digest
            or not isinstance(entry.get("recipients"), list)
        ):
            raise LogInconsistent("the logged entry is not this envelope's admission")
        return frozenset(str(p) for p in entry["recipients"])

    async def _open(
        self,
        envelope: str,
        key: EncryptionPrivateKey,
        d: Directory,
        admitted: frozenset[str] | None = None,
    ) -> OpenedBulletin:
        def who(meta: Mapping[str, Any]) -> frozenset[str]:
            if admitted is not None:
                return admitted
            return audience(meta, str(meta["iss"]), d.view)

        opened = await asyncio.to_thread(
            open_envelope, envelope, d.signing_key, party=self.party, key=key, audience=who
        )
        # The server checks this at admission; a recipient does not rely on it (§3, §5).
        sender = d.client_of.get(opened.sender_kid, {})
        if sender.get("party") != opened.bulletin["iss"] or "poster" not in sender.get("roles", ()):
            raise BadSignature("the signing key is not a poster of the bulletin's iss")
        return opened

    async def inbox(self, after: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        _, data = await self.request("GET", "/v1/inbox", params={"after": after, "limit": limit})
        return data["items"], data["next"]

    async def get(self, bid: str) -> dict[str, Any]:
        _, data = await self.request("GET", f"/v1/bulletins/{bid}")
        return dict(data)

    async def ack(self, bid: str, status: str = "received") -> dict[str, Any]:
        payload = {"bid": bid, "party": self.party, "status": status, "iat": int(time.time())}
        token = jws.sign_compact(
            json.dumps(payload, separators=(",", ":")).encode(), self.signer, jws.TYP_ACK
        )
        _, data = await self.request(
            "POST",
            f"/v1/bulletins/{bid}/acks",
            body=token.encode(),
            content_type="application/jose",
        )
        if self.log is not None:  # the ack's own log entry opens to it (issue 17)
            await self.log.check_ack(dict(data))
        return dict(data)

    async def status(self, bid: str) -> dict[str, Any]:
        _, data = await self.request("GET", f"/v1/bulletins/{bid}/status")
        return dict(data)

    async def stream(
        self,
        after: int = 0,
        *,
        min_priority: str | None = None,
        types: list[str] | None = None,
        reconnect: bool = True,
        heartbeats: bool = False,
        link_events: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream messages; on a drop, reconnect and resume after the last seq seen.
        ``link_events``: also yield ``{"kind": "disconnected", "last_contact", "error"}``
        at each failed attempt and ``{"kind": "reconnected", "outage", "cursor"}``, so a
        user can be told the stream is not live (times: epoch seconds)."""
        cursor = after
        delay = 0.2
        last_contact: float | None = None
        down_since: float | None = None
        while True:
            params: dict[str, str] = {"after": str(cursor)}
            if min_priority:
                params["min_priority"] = min_priority
            if types:
                params["types"] = ",".join(types)
            params["access_token"] = self.token("GET", "/v1/stream")
            try:
                async with self.session.ws_connect(
                    self.server_url + "/v1/stream", params=params, heartbeat=30.0
                ) as ws:
                    delay = 0.2
                    last_contact = time.time()
                    if link_events and down_since is not None:
                        outage = last_contact - down_since
                        yield {"kind": "reconnected", "outage": outage, "cursor": cursor}
                    down_since = None
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        last_contact = time.time()
                        data = json.loads(msg.data)
                        if data.get("kind") == "bulletin":
                            cursor = max(cursor, int(data["seq"]))
                        elif data.get("kind") == "heartbeat":
                            # everything up to the server's cursor was pushed, or filtered
                            # out by this very stream's filters: resume after it
                            if isinstance(data.get("cursor"), int):
                                cursor = max(cursor, data["cursor"])
                            if not heartbeats:
                                continue
                        yield data
            except aiohttp.WSServerHandshakeError as exc:
                # The handshake's problem+json body is not readable here: map by status.
                refused = _HANDSHAKE_REFUSALS.get(exc.status)
                if refused is not None:
                    raise refused(f"the stream was refused: HTTP {exc.status}") from exc
                error = f"HTTP {exc.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error = str(exc) or type(exc).__name__
            else:
                error = "the server closed the stream"
            if not reconnect:
                return
            if down_since is None:
                down_since = time.time()
            if link_events:
                yield {"kind": "disconnected", "last_contact": last_contact, "error": error}
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # --- subscriptions and admin ------------------------------------------------------------

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        _, data = await self.request(method, path, json_body=body)
        return data
