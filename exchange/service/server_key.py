"""The server's signing key rotation (issue 18). The old key signs a statement naming
the new one; a client that pinned the old kid follows the statement (and only such a
statement) to the new key. Each rotation is a directory change: the directory lists the
previous server keys, and the audit log records it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from exchange.crypto import jws
from exchange.crypto.keys import SigningKey
from exchange.errors import InputError
from exchange.service.clock import Clock
from exchange.service.directory import Directory
from exchange.store import key_lifecycle as kl
from exchange.store.db import Database

__all__ = ["ServerKeys"]


class ServerKeys:
    """The rotations of the node's signing key (``signer``, the current one)."""

    def __init__(
        self, *, db: Database, directory: Directory, clock: Clock, signer: SigningKey
    ) -> None:
        self.db = db
        self.directory = directory
        self.clock = clock
        self.signer = signer

    async def rotate(self, new: SigningKey) -> dict[str, Any]:
        """Record the rotation from the node's key to ``new``; the node signs with the new key
        from its next start (every node reads the key file then)."""
        old = self.signer
        if new.kid == old.kid:
            raise InputError("the new server key is the current one")
        at = self.clock.ms()
        claims = {
            "old_kid": old.kid,
            "old_jwk": old.public.to_jwk(),
            "new_kid": new.kid,
            "new_jwk": new.public.to_jwk(),
            "at": at,
        }
        statement = jws.sign_compact(
            json.dumps(claims, separators=(",", ":"), sort_keys=True).encode(),
            old,
            jws.TYP_SERVER_KEY_ROTATION,
        )

        def change(conn: Connection) -> int:
            kl.add_server_rotation(
                conn, old_kid=old.kid, new_kid=new.kid, statement=statement, at=at
            )
            return self.directory.record_change(
                conn, "rotate-server-key", {"old_kid": old.kid, "new_kid": new.kid}
            )

        v = await self.directory.write(change)
        return {
            "old_kid": old.kid,
            "new_kid": new.kid,
            "at": at,
            "statement": statement,
            "version": v,
        }

    async def rotations(self) -> list[dict[str, Any]]:
        return await self.db.run_read(kl.server_rotations)
