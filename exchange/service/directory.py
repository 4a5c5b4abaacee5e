"""The directory's operations (PROTOCOL §7, §8): a change serialised under the log's
lock and logged with the new directory's digest, and the signed directory document,
signed once per version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from exchange.audit.canonical import canonical_json
from exchange.audit.digest import directory_digest
from exchange.crypto import jws
from exchange.crypto.keys import SigningKey
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock
from exchange.service.hub import Hub
from exchange.store import audit as audit_store
from exchange.store import directory as dir_store
from exchange.store.db import Database

__all__ = ["Directory"]

T = TypeVar("T")


class Directory:
    """Changes to the directory and its signed document. A change drops the client rows
    ``clients`` keeps for authentication and tells the ``hub``'s open streams to re-check
    their client."""

    def __init__(
        self,
        *,
        exchange_id: str,
        db: Database,
        signer: SigningKey,
        clock: Clock,
        clients: ClientCache,
        hub: Hub,
    ) -> None:
        self.exchange_id = exchange_id
        self.db = db
        self.signer = signer
        self.clock = clock
        self.clients = clients
        self.hub = hub
        self._signed: tuple[int, str] | None = None

    def document(self, conn: Connection) -> dict[str, Any]:
        doc = dir_store.load_all(conn)
        doc["exchange_id"] = self.exchange_id
        return doc

    async def write(self, change: Callable[[Connection], T]) -> T:
        """Run ``change(conn)`` as the write transaction of one directory change. It takes
        the log's append lock first, so that changes are serialised on every backend: on
        PostgreSQL two concurrent changes would otherwise read the same version, the same
        active encryption key or the same missing membership (PROTOCOL §1, §7)."""

        def txn(conn: Connection) -> T:
            audit_store.lock_log(conn)
            return change(conn)

        self.clients.invalidate()
        self.hub.directory_change_started()  # open streams re-check their client
        try:
            return await self.db.run_write(txn)
        finally:
            self.clients.invalidate()
            self.hub.directory_change_ended()

    def record_change(self, conn: Connection, op: str, subject: dict[str, Any]) -> int:
        """Bump the version and log the change with the new directory's digest, in the
        caller's transaction (PROTOCOL §7, §8). Returns the new version."""
        now = self.clock.ms()
        version = dir_store.bump_version(conn)
        digest = directory_digest(self.document(conn))
        # The subject never overrides what makes this entry a directory change.
        entry = {**subject, "kind": "directory", "op": op, "version": version}
        entry.update(digest=digest, at=now)
        idx = audit_store.append(conn, entry, now)
        dir_store.record_digest(conn, digest, idx)
        return version

    async def signed(self) -> str:
        """The directory as the server's JWS (``GET /v1/directory``), signed once per
        version."""
        cached = self._signed

        def read(conn: Connection) -> tuple[dict[str, Any] | None, int]:
            version, _digest, log_index = dir_store.version_info(conn)
            if cached is not None and cached[0] == version:
                return None, log_index
            return self.document(conn), log_index

        doc, log_index = await self.db.run_read(read)
        if doc is None:
            assert cached is not None
            return cached[1]
        doc["log_index"] = log_index
        token = jws.sign_compact(canonical_json(doc), self.signer, jws.TYP_DIRECTORY)
        self._signed = (int(doc["version"]), token)
        return token

    def server_jwk(self) -> dict[str, str]:
        return self.signer.public.to_jwk()
