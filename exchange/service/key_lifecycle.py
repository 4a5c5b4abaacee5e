"""The key lifecycle (issue 18): a client rotates its signing key (or the operator does
it for the client), the old key keeps verifying for a grace period, and keys may carry
an expiry date. Each change is a directory change: one transaction with its audit leaf."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from exchange.config import Limits
from exchange.crypto import jws
from exchange.crypto.keys import SigningPublicKey, parse_signing_jwk
from exchange.errors import BadSignature, InputError, InvalidKey
from exchange.service.caller import Caller
from exchange.service.clock import Clock
from exchange.service.directory import Directory
from exchange.service.signing_policy import check_key
from exchange.store import key_lifecycle as kl
from exchange.store import signing_policy as policy_store

__all__ = ["PROOF_MAX_AGE", "KeyLifecycle"]

#: a proof of possession is fresh for this long (seconds), either way of the clock
PROOF_MAX_AGE = 300


class KeyLifecycle:
    """Client key rotations and expiries: directory changes, checked against the clock
    and the node's grace period (``key_grace``, seconds)."""

    def __init__(
        self, *, directory: Directory, clock: Clock, limits: Limits, key_grace: int
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.limits = limits
        self.key_grace = key_grace

    def _check_proof(self, proof: str, key: SigningPublicKey, caller: Caller) -> None:
        """The new key signed {client, old_kid, new_kid, iat}: whoever rotates holds it."""
        verified = jws.verify_compact(
            proof,
            lambda k: key if k == key.kid else None,
            jws.TYP_KEY_PROOF,
            max_header=self.limits.max_header,
        )
        try:
            claims = json.loads(verified.payload)
        except ValueError as exc:
            raise BadSignature("the proof's payload is not JSON") from exc
        want = {"client": caller.client_id, "old_kid": caller.kid, "new_kid": key.kid}
        if not isinstance(claims, dict) or any(claims.get(k) != v for k, v in want.items()):
            raise BadSignature("the proof names another client or key")
        iat = claims.get("iat")
        if not isinstance(iat, int) or abs(self.clock.seconds() - iat) > PROOF_MAX_AGE:
            raise BadSignature("the proof is not fresh (iat)")

    def _expiry(self, expires_at: int | None) -> int | None:
        if expires_at is not None and expires_at <= self.clock.ms():
            raise InputError("expires_at is in the past")
        return expires_at

    async def _rotate(
        self,
        *,
        client_id: str,
        party: str,
        key: SigningPublicKey,
        grace: int,
        expires_at: int | None,
        current: str | None,
        by: str,
    ) -> dict[str, Any]:
        now = self.clock.ms()
        retire_at = now + grace * 1000

        def change(conn: Connection) -> tuple[str, int]:
            check_key(policy_store.hybrid_required(conn, party), key, InvalidKey)
            old = kl.rotate_client_key(
                conn,
                client_id=client_id,
                kid=key.kid,
                jwk=key.to_jwk(),
                now=now,
                retire_at=retire_at,
                expires_at=expires_at,
                current=current,
            )
            subject = {"client": client_id, "kid": key.kid, "old_kid": old, "retire_at": retire_at}
            return old, self.directory.record_change(
                conn, "rotate-signing-key", subject | {"by": by}
            )

        old, v = await self.directory.write(change)
        return {
            "id": client_id,
            "kid": key.kid,
            "old_kid": old,
            "retire_at": retire_at,
            "version": v,
        }

    async def rotate_own(
        self,
        caller: Caller,
        *,
        jwk: object,
        proof: str,
        grace: int | None,
        expires_at: int | None,
    ) -> dict[str, Any]:
        """The client rotates its own key: the request is signed by the current key (its
        token), the proof by the new one. It may ask for a shorter grace, never a longer."""
        key = parse_signing_jwk(jwk)
        self._check_proof(proof, key, caller)
        limit = self.key_grace
        return await self._rotate(
            client_id=caller.client_id,
            party=caller.party,
            key=key,
            grace=limit if grace is None else min(grace, limit),
            expires_at=self._expiry(expires_at),
            current=caller.kid,
            by=caller.client_id,
        )

    async def rotate_by_operator(
        self,
        caller: Caller,
        *,
        client_id: str,
        jwk: object,
        grace: int | None,
        expires_at: int | None,
    ) -> dict[str, Any]:
        """The operator registers a client's new key (from its public.json, checked by phone):
        for a desk whose old key is lost or compromised, with ``grace`` 0."""
        caller.require("admin")
        party = client_id.split("/", 1)[0]
        return await self._rotate(
            client_id=client_id,
            party=party,
            key=parse_signing_jwk(jwk),
            grace=self.key_grace if grace is None else grace,
            expires_at=self._expiry(expires_at),
            current=None,
            by=caller.client_id,
        )

    async def set_expiry(
        self, caller: Caller, *, client_id: str | None, kid: str | None, expires_at: int | None
    ) -> int:
        """The operator sets (or clears) the expiry of a client's key or an encryption key."""
        caller.require("admin")
        if (client_id is None) == (kid is None):
            raise InputError("give a client or an encryption key kid")
        expires_at = self._expiry(expires_at)

        def change(conn: Connection) -> int:
            if client_id is not None:
                kl.set_client_expiry(conn, client_id, expires_at)
                subject: dict[str, Any] = {"client": client_id}
            else:
                party = kl.set_enc_key_expiry(conn, str(kid), expires_at)
                subject = {"party": party, "kid": kid}
            return self.directory.record_change(
                conn, "set-key-expiry", subject | {"expires_at": expires_at}
            )

        return await self.directory.write(change)
