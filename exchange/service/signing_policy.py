"""The "require hybrid" signing policy (issue 20): set by the operator, per party or for
the whole exchange, and enforced wherever the server checks a client's signature.

Under the policy an Ed25519-only key of that party is refused: its request tokens (and so
its acks, signed with the same key), envelopes it signed for another client of its party,
and registering a new one. Readers see the policy in the directory and the SDK refuses
such signatures too (``exchange.client.directory``).
"""

from __future__ import annotations

from sqlalchemy import Connection

from exchange.crypto.keys import SigningPublicKey, parse_signing_jwk
from exchange.errors import Conflict, NotFound
from exchange.service.caller import Caller
from exchange.service.directory import Directory
from exchange.store import directory as dir_store
from exchange.store import parties as party_store
from exchange.store import signing_policy as policy_store

__all__ = ["check_key", "set_policy"]


def check_key(hybrid_required: bool, key: SigningPublicKey, error: type[Exception]) -> None:
    """Refuse an Ed25519-only ``key`` where its party must sign hybrid."""
    if hybrid_required and not key.is_hybrid:
        raise error("this party must sign with a hybrid ML-DSA-65-Ed25519 key")


async def set_policy(dirs: Directory, caller: Caller, *, party: str | None, required: bool) -> int:
    """Require (or stop requiring) hybrid keys of ``party``, or of everyone when None.
    Refused when it would lock out the operator's own calling key."""
    caller.require("admin")
    scope = policy_store.EXCHANGE_WIDE if party is None else party
    now = dirs.clock.ms()

    def change(conn: Connection) -> int:
        if party is not None and not party_store.party_exists(conn, party):
            raise NotFound(f"no party {party}")
        me = party_store.client_by_kid(conn, caller.kid)
        if required and me is not None and scope in (policy_store.EXCHANGE_WIDE, me.party):
            check_key(True, parse_signing_jwk(me.jwk), Conflict)
        if not policy_store.set_required(conn, scope, required, now):
            return dir_store.current_version(conn)
        return dirs.record_change(
            conn, "set-signing-policy", {"party": scope, "require_hybrid": required}
        )

    return await dirs.write(change)
