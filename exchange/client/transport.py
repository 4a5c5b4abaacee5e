"""What one client credential holds to talk to one exchange: the HTTP session, the
signer of its per-request tokens (PROTOCOL §6) and the pinned server key (§7).

``ExchangeClient`` builds on it; the log monitor and the stream need only this much."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from exchange.client import server_key as server_keys
from exchange.client._problems import error_from_problem
from exchange.crypto import tokens
from exchange.crypto.keys import Signer, SigningPublicKey, parse_signing_jwk
from exchange.errors import RateLimited, StorageError

__all__ = ["Transport"]


class Transport:
    def __init__(
        self,
        *,
        server_url: str,
        client_id: str,
        exchange_id: str,
        signer: Signer,
        server_kid: str | None = None,
        timeout: float = 30.0,
        retry_wait: float = 0.0,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.client_id = client_id
        self.party = client_id.split("/", 1)[0]
        self.exchange_id = exchange_id
        self.signer = signer
        self.server_kid = server_kid
        #: seconds one request may spend waiting out 429/503 ``Retry-After`` answers
        #: before it raises (0: raise at once; the error carries ``retry_after``)
        self.retry_wait = retry_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server_key: SigningPublicKey | None = None
        #: issue 18: server keys rotated away from (key, rotated at ms), and the profile
        #: folder whose pinned kid follows a rotation
        self.previous_server_keys: dict[str, tuple[SigningPublicKey, int]] = {}
        self.profile_dir: Path | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

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
        no command talks to (or sends a token to) a server that is not the pinned one.
        A 429 or 503 is retried after its ``Retry-After`` while ``retry_wait`` allows
        (each try signs a fresh token: a ``jti`` is spent once)."""
        if auth and self._server_key is None and self.server_kid is not None:
            await self.server_key()
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        budget = self.retry_wait
        while True:
            status, data, problem, retry_after = await self._send(
                method, path, body, content_type, params, auth
            )
            if status < 400:
                return status, data
            err = error_from_problem(status, problem, retry_after=retry_after)
            if not isinstance(err, (RateLimited, StorageError)) or err.retry_after > budget:
                raise err
            budget -= err.retry_after
            await asyncio.sleep(err.retry_after)

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        params: Mapping[str, str | int] | None,
        auth: bool,
    ) -> tuple[int, Any, Any, str | None]:
        """One try: status, JSON body, problem body, ``Retry-After`` header."""
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
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StorageError(f"cannot reach {self.server_url}: {exc}") from exc
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        problem = data if ctype == "application/problem+json" else {}
        return status, data, problem, retry_after

    async def server_key(self) -> SigningPublicKey:
        """The server's signing key; its kid must be the pinned one (PROTOCOL §7)."""
        if self._server_key is None:
            _, jwk = await self.request("GET", "/v1/server-key", auth=False)
            key = parse_signing_jwk(jwk)
            if self.server_kid is not None and key.kid != self.server_kid:
                # issue 18: only statements signed by the pinned key lead to another
                chain = await server_keys.follow_rotation(self, self.server_kid, key)
                self.previous_server_keys.update(chain)
                server_keys.repin(self, key.kid)
            self.server_kid = key.kid
            self._server_key = key
        return self._server_key
