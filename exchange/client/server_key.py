"""Following a server key rotation (issue 18). A client pins the server's kid; when the
server presents another key, the client accepts it only through statements signed by
the pinned key (and then by each successor), naming the next key: GET
/v1/server-key/rotation. Anything else (no statement, one signed by another key, a
chain that does not end at the presented key) is refused as before."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from exchange.crypto import b64u_decode, jws
from exchange.crypto.keys import SigningPublicKey, parse_signing_jwk
from exchange.errors import BadSignature, ExchangeError

__all__ = [
    "RotationClient",
    "claimed_time",
    "follow_rotation",
    "learn_from_directory",
    "repin",
    "server_key_at",
    "signed_before",
    "verify_statement",
]


class RotationClient(Protocol):
    """What following a rotation needs of the SDK's transport (``client/transport.py``,
    which calls in here: a Protocol, not an import, keeps the two out of a cycle)."""

    server_url: str
    previous_server_keys: dict[str, tuple[SigningPublicKey, int]]
    profile_dir: Path | None

    async def request(self, method: str, path: str, *, auth: bool = ...) -> tuple[int, Any]: ...


#: a chain longer than this is refused (each rotation is an operator's act)
_MAX_CHAIN = 32


def verify_statement(statement: str, old_kid: str) -> tuple[SigningPublicKey, dict[str, Any]]:
    """The statement's old key must have thumbprint ``old_kid`` and have signed it;
    returns the old key and the claims."""
    parts = statement.split(".")
    if len(parts) != 3:
        raise BadSignature("a server key statement is malformed")
    try:
        claims = json.loads(b64u_decode(parts[1]))
        old = parse_signing_jwk(claims["old_jwk"])
    except (ValueError, KeyError, TypeError, ExchangeError) as exc:
        raise BadSignature("a server key statement is malformed") from exc
    if old.kid != old_kid or claims.get("old_kid") != old_kid:
        raise BadSignature("a server key statement is not about the pinned key")
    try:
        jws.verify_compact(
            statement, lambda k: old if k == old_kid else None, jws.TYP_SERVER_KEY_ROTATION
        )
    except ExchangeError as exc:
        raise BadSignature(f"a server key statement is not signed by {old_kid}") from exc
    return old, claims


async def follow_rotation(
    client: RotationClient, pinned: str, served: SigningPublicKey
) -> dict[str, tuple[SigningPublicKey, int]]:
    """The keys from ``pinned`` to ``served`` (each old key with the time it was rotated
    away from, ms), if signed statements lead there; else :class:`BadSignature`."""
    refusal = BadSignature(
        f"the server at {client.server_url} has key {served.kid}, but this profile "
        f"pinned {pinned}: refusing to talk to it (no statement signed by {pinned} "
        "names the new key; ask the operator whether the server key changed)"
    )
    try:
        _, data = await client.request("GET", "/v1/server-key/rotation", auth=False)
        by_old = {str(r["old_kid"]): str(r["statement"]) for r in data["rotations"]}
    except (ExchangeError, KeyError, TypeError) as exc:
        raise refusal from exc
    known: dict[str, tuple[SigningPublicKey, int]] = {}
    kid = pinned
    while kid != served.kid:
        if kid not in by_old or len(known) >= _MAX_CHAIN:
            raise refusal
        try:
            old, claims = verify_statement(by_old[kid], kid)
            nxt = parse_signing_jwk(claims["new_jwk"])
        except (ExchangeError, KeyError, TypeError) as exc:
            raise refusal from exc
        if nxt.kid != claims.get("new_kid"):
            raise refusal
        known[kid] = (old, int(claims["at"]))
        kid = nxt.kid
    return known


def signed_before(at: str | int | None, until: int) -> bool:
    """Whether a server object dated ``at`` (RFC 3339 or ms) predates a rotation."""
    try:
        if isinstance(at, str):
            at = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return False
    return isinstance(at, int) and at < until


def claimed_time(token: str, member: str) -> str | int | None:
    """``member`` of a compact JWS's payload, unverified (to choose the key to verify with)."""
    try:
        value = json.loads(b64u_decode(token.split(".")[1])).get(member)
    except (ValueError, IndexError, AttributeError, ExchangeError):
        return None
    return value if isinstance(value, (str, int)) else None


def server_key_at(
    client: RotationClient, current: SigningPublicKey, kid: str, at: str | int | None
) -> SigningPublicKey | None:
    """The key that may have signed a server object (a receipt, a tree head) dated
    ``at``: the current key, or a previous one for what it signed before its rotation."""
    if kid == current.kid:
        return current
    prev = client.previous_server_keys.get(kid)
    return prev[0] if prev is not None and signed_before(at, prev[1]) else None


def learn_from_directory(client: RotationClient, doc: dict[str, Any]) -> None:
    """The directory (signed by the current key) lists the previous server keys: a desk
    made after a rotation verifies what they signed before it."""
    for p in doc.get("previous_server_keys", ()):
        if p["kid"] not in client.previous_server_keys:
            key = parse_signing_jwk(p["jwk"])
            if key.kid == p["kid"]:
                client.previous_server_keys[key.kid] = (key, int(p["until"]))


def repin(client: RotationClient, kid: str) -> None:
    """Pin ``kid`` in the client's profile.json, if it came from a profile."""
    from dataclasses import replace

    from exchange.keyfiles import read_profile, write_profile

    folder = client.profile_dir
    if folder is not None and (folder / "profile.json").is_file():
        write_profile(folder, replace(read_profile(folder), server_kid=kid))
