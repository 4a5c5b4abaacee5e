"""``ExchangeClient``: one client credential talking to one exchange."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from exchange.bulletin.validate import validate_bulletin
from exchange.client import server_key as server_keys
from exchange.client.audit import LogMonitor
from exchange.client.directory import Directory, parse_directory
from exchange.client.receipt import Receipt, verify_receipt
from exchange.client.stream import stream_messages
from exchange.client.transport import Transport
from exchange.crypto import b64u_encode, jws
from exchange.crypto.envelope import OpenedBulletin, open_envelope, seal, verify_envelope
from exchange.crypto.keys import EncryptionPrivateKey, Signer
from exchange.errors import (
    BadSignature,
    ExchangeError,
    InputError,
    LogInconsistent,
    NotARecipient,
    RecipientMismatch,
)
from exchange.keyfiles import Profile, read_json, read_profile
from exchange.keystore import load_signer
from exchange.routing import audience, recipients

__all__ = ["ExchangeClient", "Receipt"]


class ExchangeClient(Transport):
    """A :class:`Transport` plus the party's keys, its copy of the directory and the
    audit-log monitor: seal, post, open, ack and follow the stream."""

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
        retry_wait: float = 0.0,
        verify_log: bool = True,
        sth_file: Path | None = None,
        retired_keys: list[EncryptionPrivateKey] | None = None,
    ) -> None:
        super().__init__(
            server_url=server_url,
            client_id=client_id,
            exchange_id=exchange_id,
            signer=signer,
            server_kid=server_kid,
            timeout=timeout,
            retry_wait=retry_wait,
        )
        self.encryption_key = encryption_key
        self.retired_keys = list(retired_keys or [])
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
        client = cls(
            server_url=profile.server_url,
            client_id=profile.client_id,
            exchange_id=profile.exchange_id,
            signer=signer,
            server_kid=profile.server_kid or None,
            encryption_key=enc,
            **kw,
        )
        client.profile_dir = folder
        return client

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def directory(self, *, refresh: bool = False) -> Directory:
        if self._directory is None or refresh:
            _, data = await self.request("GET", "/v1/directory")
            d = parse_directory(data["directory"], await self.server_key())
            server_keys.learn_from_directory(self, d.doc)
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
        at = server_keys.claimed_time(token, "accepted_at")
        return verify_receipt(token, lambda k: server_keys.server_key_at(self, key, k, at))

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

    async def inbox(
        self, after: int = 0, limit: int = 100, *, unacked: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, str | int] = {"after": after, "limit": limit}
        if unacked:  # only what no desk of the party has acknowledged yet
            params["unacked"] = 1
        _, data = await self.request("GET", "/v1/inbox", params=params)
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

    def stream(
        self,
        after: int = 0,
        *,
        min_priority: str | None = None,
        types: list[str] | None = None,
        reconnect: bool = True,
        heartbeats: bool = False,
        link_events: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream messages (:func:`exchange.client.stream.stream_messages`)."""
        return stream_messages(
            self,
            after,
            min_priority=min_priority,
            types=types,
            reconnect=reconnect,
            heartbeats=heartbeats,
            link_events=link_events,
        )

    # --- subscriptions and admin ------------------------------------------------------------

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        _, data = await self.request(method, path, json_body=body)
        return data
