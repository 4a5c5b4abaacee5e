"""Request authentication (PROTOCOL §6): the per-request token, its ``jti`` spent once,
the client's status and the rate limit; and the one kid -> signing key cache that
request tokens and envelope signatures share."""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache

from exchange.config import Limits
from exchange.crypto import jws, tokens
from exchange.crypto.keys import SigningPublicKey, parse_signing_jwk
from exchange.errors import AuthError, ExchangeError
from exchange.service.caller import Caller, TokenId
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock
from exchange.service.ratelimit import RateLimiter
from exchange.service.signing_policy import check_key
from exchange.service.spend import JtiSpender
from exchange.store import replay
from exchange.store.db import Database
from exchange.vocab import KID_RE

__all__ = ["Authenticator", "KeyCache"]

#: a kid is a base64url thumbprint (PROTOCOL §2); anything else is refused before the
#: database sees it (PostgreSQL cannot even compare a string holding NUL)


class KeyCache:
    """kid -> parsed signing key, least recently used dropped first. A kid is its key's
    RFC 7638 thumbprint, so an entry is never stale: who holds the key, its roles and its
    status are read afresh (``ClientCache``) on every request. Parsing a hybrid JWK costs
    far more than a lookup, and the request that posts an envelope has just parsed its
    own key for the token, so admission finds it here."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._keys: LRUCache[str, SigningPublicKey] = LRUCache(maxsize)

    def get(self, kid: str) -> SigningPublicKey | None:
        return self._keys.get(kid)

    def parse(self, kid: str, jwk: dict[str, Any]) -> SigningPublicKey:
        """The key of ``jwk``, registered under ``kid`` (the directory's row)."""
        key = self._keys.get(kid)
        if key is None:
            key = self._keys[kid] = parse_signing_jwk(jwk)
        return key

    def __len__(self) -> int:
        return len(self._keys)


class Authenticator:
    """Turns a request's bearer token into a :class:`Caller` or refuses it."""

    def __init__(
        self,
        *,
        exchange_id: str,
        limits: Limits,
        clock: Clock,
        db: Database,
        clients: ClientCache,
        keys: KeyCache,
        jtis: JtiSpender,
        rate: RateLimiter,
    ) -> None:
        self.exchange_id = exchange_id
        self.limits = limits
        self.clock = clock
        self.db = db
        self.clients = clients
        self.keys = keys
        self.jtis = jtis
        self.rate = rate

    async def authenticate(
        self, token: str | None, method: str, path: str, body: bytes | None
    ) -> Caller:
        """Verify a per-request token, spend its ``jti``, and apply the rate limit."""
        caller, token_id = await self._verify(token, method, path, body)
        await self.jtis.spend_token(token_id)
        self.rate.check(caller.client_id, self.clock.now())
        return caller

    async def authenticate_unspent(
        self, token: str | None, method: str, path: str, body: bytes | None
    ) -> tuple[Caller, TokenId]:
        """As :meth:`authenticate`, but the ``jti`` is left for the caller's one write
        transaction to spend (a bulletin's admission, ADR 0020), which must refuse the
        request as a replay when it was spent. The rate limit is applied now."""
        caller, token_id = await self._verify(token, method, path, body)
        try:
            self.rate.check(caller.client_id, self.clock.now())
        except ExchangeError:
            await self.jtis.spend_token(token_id)  # as authenticate() would have
            raise
        return caller, token_id

    async def _verify(
        self, token: str | None, method: str, path: str, body: bytes | None
    ) -> tuple[Caller, TokenId]:
        if not token:
            raise AuthError("missing bearer token")
        if len(token) > self.limits.max_header:
            raise AuthError("token too large")
        try:
            header = jws.peek_header(token, max_header=self.limits.max_header)
        except ExchangeError as exc:
            raise AuthError("malformed token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_RE.fullmatch(kid):
            raise AuthError("token has no usable kid")
        client = await self.clients.by_kid(kid)
        if client is None:
            raise AuthError("unknown key")
        refusal = client.refusal  # revoked, suspended, or its party suspended/removed
        if refusal is not None:
            raise AuthError(refusal)
        key = self.keys.parse(kid, client.jwk)
        check_key(client.hybrid_required, key, AuthError)  # issue 20 policy
        claims = tokens.verify_request_token(
            token,
            lambda k: key if k == kid else None,
            aud=self.exchange_id,
            method=method,
            path=path,
            body=body,
            now=self.clock.seconds(),
            skew=self.limits.clock_skew,
            max_lifetime=self.limits.token_lifetime,
        )
        if claims.iss != client.id:
            raise AuthError("token issuer does not hold this key")
        return Caller(client.id, client.party, client.roles, kid), TokenId(claims.jti, claims.exp)

    async def prune(self) -> None:
        """Forget spent ``jti`` values whose tokens have expired."""
        now, skew = self.clock.seconds(), self.limits.clock_skew
        await self.db.run_write(lambda c: replay.prune_jtis(c, now, skew))
