"""The exchange's state on one node and the operations every route shares: request
authentication (PROTOCOL §6) and the signed, logged directory (PROTOCOL §7, §8)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.audit.canonical import canonical_json
from exchange.audit.digest import directory_digest
from exchange.audit.tree import MerkleCache
from exchange.config import ServerConfig
from exchange.crypto import jws, tokens
from exchange.crypto.keys import SigningKey, SigningPublicKey, parse_signing_jwk
from exchange.errors import AuthError, ExchangeError, Forbidden
from exchange.service.admission import Admissions
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock
from exchange.service.hub import Hub
from exchange.service.marker import DeliveryMarker
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import RateLimiter
from exchange.service.signing_policy import check_key
from exchange.service.spend import JtiSpender
from exchange.service.view import ViewCache
from exchange.store import audit as audit_store
from exchange.store import directory as dir_store
from exchange.store import replay
from exchange.store.db import Database

__all__ = ["Caller", "Exchange"]

#: a kid is a base64url thumbprint (PROTOCOL §2); anything else is refused before the
#: database sees it (PostgreSQL cannot even compare a string holding NUL)
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Caller:
    """The authenticated client of one request."""

    client_id: str
    party: str
    roles: frozenset[str]
    kid: str

    def require(self, role: str) -> None:
        if role not in self.roles:
            raise Forbidden(f"this needs the '{role}' role")

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class Exchange:
    """Owns the database handle, the server's signing key, the clock and the local hub."""

    def __init__(
        self,
        config: ServerConfig,
        db: Database,
        signer: SigningKey,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.db = db
        self.signer = signer
        self.clock = clock or Clock()
        # The only writer (SQLite, no poll for other processes) sees every commit, in
        # order: its streams can take new bulletins from memory (service/hub.py).
        sole_writer = db.is_sqlite and not config.poll_interval
        self.hub = Hub(queue_size=config.limits.ws_send_queue, carry=sole_writer)
        self.rate = RateLimiter(config.limits.rate_per_second, config.limits.rate_burst)
        self.views = ViewCache()
        self.metrics = Metrics()
        self.marker = DeliveryMarker(db, self.clock)
        self._keys: dict[str, SigningPublicKey] = {}
        self._directory: tuple[int, str] | None = None
        self.sth_cache: tuple[int, str] | None = None
        #: this node's copy of the log's leaf hashes and complete subtrees (append-only)
        self.tree = MerkleCache()
        self.jtis = JtiSpender(db)
        self.admissions = Admissions(self)
        self.clients = ClientCache(db, enabled=sole_writer)

    # --- PROTOCOL §6 --------------------------------------------------------------------

    async def authenticate(
        self, token: str | None, method: str, path: str, body: bytes | None
    ) -> Caller:
        """Verify a per-request token, spend its ``jti``, and apply the rate limit."""
        if not token:
            raise AuthError("missing bearer token")
        if len(token) > self.limits.max_header:
            raise AuthError("token too large")
        try:
            header = jws.peek_header(token, max_header=self.limits.max_header)
        except ExchangeError as exc:
            raise AuthError("malformed token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise AuthError("token has no usable kid")
        client = await self.clients.by_kid(kid)
        if client is None:
            raise AuthError("unknown key")
        refusal = client.refusal  # revoked, suspended, or its party suspended/removed
        if refusal is not None:
            raise AuthError(refusal)
        key = self._keys.get(kid)
        if key is None:
            key = self._keys[kid] = parse_signing_jwk(client.jwk)
        check_key(client.hybrid_required, key, AuthError)  # issue 20 policy
        claims = tokens.verify_request_token(
            token,
            lambda k: key if k == kid else None,
            aud=self.config.exchange_id,
            method=method,
            path=path,
            body=body,
            now=self.clock.seconds(),
            skew=self.limits.clock_skew,
            max_lifetime=self.limits.token_lifetime,
        )
        if claims.iss != client.id:
            raise AuthError("token issuer does not hold this key")
        if not await self.jtis.spend(claims.jti, claims.exp):
            raise AuthError("token already used")
        self.rate.check(client.id, self.clock.now())
        return Caller(client.id, client.party, client.roles, kid)

    async def prune(self) -> None:
        async with self.db.write() as conn:
            await replay.prune_jtis(conn, self.clock.seconds(), self.limits.clock_skew)

    # --- the directory ------------------------------------------------------------------

    async def directory_doc(self, conn: AsyncConnection) -> dict[str, Any]:
        doc = await dir_store.load_all(conn)
        doc["exchange_id"] = self.config.exchange_id
        return doc

    @contextlib.asynccontextmanager
    async def directory_write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction for one directory change. It takes the log's append lock
        first, so that changes are serialised on every backend: on PostgreSQL two
        concurrent changes would otherwise read the same version, the same active
        encryption key or the same missing membership (PROTOCOL §1, §7)."""
        self.clients.invalidate()
        self.hub.directory_change_started()  # open streams re-check their client
        try:
            async with self.db.write() as conn:
                await conn.run_sync(audit_store.lock_log)
                yield conn
        finally:
            self.clients.invalidate()
            self.hub.directory_change_ended()

    async def record_directory_change(
        self, conn: AsyncConnection, op: str, subject: dict[str, Any]
    ) -> int:
        """Bump the version and log the change with the new directory's digest, in the
        caller's transaction (PROTOCOL §7, §8). Returns the new version."""
        now = self.clock.ms()
        version = await dir_store.bump_version(conn)
        digest = directory_digest(await self.directory_doc(conn))
        # The subject never overrides what makes this entry a directory change.
        entry = {**subject, "kind": "directory", "op": op, "version": version}
        entry.update(digest=digest, at=now)
        idx = await conn.run_sync(lambda c: audit_store.append(c, entry, now))
        await dir_store.record_digest(conn, digest, idx)
        return version

    async def signed_directory(self) -> str:
        async with self.db.read() as conn:
            version, _digest, log_index = await dir_store.version_info(conn)
            cached = self._directory
            if cached is not None and cached[0] == version:
                return cached[1]
            doc = await self.directory_doc(conn)
        doc["log_index"] = log_index
        token = jws.sign_compact(canonical_json(doc), self.signer, jws.TYP_DIRECTORY)
        self._directory = (int(doc["version"]), token)
        return token

    def server_jwk(self) -> dict[str, str]:
        return self.signer.public.to_jwk()
