"""Admission of a sealed bulletin (PROTOCOL §5, §7 ``POST /v1/bulletins``).

Cheap checks and the outer signature come first, outside any transaction; routing,
the recipient-kid check, the insert of the bulletin with its deliveries, and its audit
leaf then happen in one write transaction: a bulletin is accepted whole or not at all."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from exchange.audit.canonical import canonical_json
from exchange.bulletin.validate import validate_metadata
from exchange.crypto import jws
from exchange.crypto._b64 import b64u_encode
from exchange.crypto.envelope import EnvelopeInfo, verify_envelope
from exchange.crypto.keys import SigningPublicKey, parse_signing_jwk
from exchange.errors import (
    Conflict,
    ExchangeError,
    Forbidden,
    InputError,
    MalformedEnvelope,
    RecipientMismatch,
    UnknownKey,
)
from exchange.routing import recipients as route
from exchange.service.clock import iso_ms
from exchange.service.core import Caller, Exchange
from exchange.store import audit as audit_store
from exchange.store import bulletins as bstore
from exchange.store import directory as dir_store

__all__ = ["admit"]


_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: kid -> key. A kid is its key's RFC 7638 thumbprint, so an entry is never stale; who
#: holds the key, its roles and its status are read afresh on every post.
_KEYS: dict[str, SigningPublicKey] = {}
_KEYS_MAX = 4096


async def _sender_key(
    ex: Exchange, envelope: bytes, caller: Caller
) -> tuple[str, SigningPublicKey]:
    """PROTOCOL §5: the outer JWS's kid must be an active poster client of ``iss``'s
    party (the caller's; ``iss`` is compared after the signature is checked)."""
    try:
        header = jws.peek_header(envelope, max_header=ex.limits.max_header)
    except ExchangeError:
        raise
    except Exception as exc:  # pragma: no cover - peek_header raises library errors only
        raise MalformedEnvelope("envelope is not a compact JWS") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise MalformedEnvelope("envelope header has no usable kid")
    if kid == caller.kid and kid in _KEYS:
        # The usual case: signed by the posting client itself, whose key, status and
        # roles the request's authentication has just read (and require("poster") checked).
        return caller.client_id, _KEYS[kid]
    async with ex.db.read() as conn:
        client = await dir_store.client_by_kid(conn, kid)
    if client is None or client.status != "active":
        raise UnknownKey("the envelope's signing key is not an active client key")
    if "poster" not in client.roles:
        raise Forbidden("the envelope's signing key is not a poster's")
    if client.party != caller.party:
        raise Forbidden("an envelope must be signed by a client of the posting party")
    key = parse_signing_jwk(client.jwk)
    if len(_KEYS) >= _KEYS_MAX:
        _KEYS.clear()
    _KEYS[key.kid] = key
    return client.id, key


def _check_times(ex: Exchange, meta: dict[str, Any]) -> None:
    now = ex.clock.seconds()
    if meta["iat"] > now + ex.limits.future_iat:  # PROTOCOL §5
        raise InputError(f"iat is more than {ex.limits.future_iat} s in the future")
    if meta["exp"] is not None and meta["exp"] <= meta["iat"]:
        raise InputError("exp must be after iat")
    if meta["v"] != 1:
        raise InputError("unsupported bulletin version")
    if meta["type"] == "revocation" and meta["supersedes"] is None:
        raise InputError("a revocation must name the bulletin it withdraws in 'supersedes'")


def _receipt(ex: Exchange, body: dict[str, Any]) -> str:
    return jws.sign_compact(canonical_json(body), ex.signer, jws.TYP_RECEIPT)


async def admit(ex: Exchange, caller: Caller, envelope: bytes) -> tuple[bool, str]:
    """Accept ``envelope``; returns (created, receipt JWS). A re-post of the same bytes
    returns the original receipt with created False."""
    caller.require("poster")
    client_id, key = await _sender_key(ex, envelope, caller)
    info: EnvelopeInfo = verify_envelope(
        envelope,
        lambda k: key if k == key.kid else None,
        max_size=ex.limits.max_body,
        max_recipients=ex.limits.max_recipients,
    )
    # PROTOCOL §4: the server cannot read the body, but every routing field it stores,
    # routes, filters and escalates on must be in the vocabulary (a UUID bid, a known
    # type, priority and tlp), or one sender could poison its recipients' streams.
    meta = validate_metadata(info.metadata)
    if meta["iss"] != caller.party:
        raise Forbidden("iss must be the posting party")
    digest = b64u_encode(info.sha256)
    _check_times(ex, meta)  # a re-post passed these when it was first accepted
    text = envelope.decode("ascii")
    try:
        async with ex.db.write() as conn:
            if conn.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE serialises writers
                await audit_store.lock_log(conn)  # seq order == commit order (ADR 0005)
            try:
                receipt, recipients = await _insert(ex, conn, meta, client_id, info, text, digest)
            except (InputError, Forbidden, RecipientMismatch):
                # PROTOCOL §5: a re-post is answered with its receipt (or 409), even if
                # it would not route today; the lookup is only paid on this path.
                existing = await bstore.by_bid(conn, meta["bid"])
                if existing is None:
                    raise
                return _repost(existing, digest)
    except IntegrityError:
        # The bid is used (the unique key): a re-post, or another envelope under it.
        async with ex.db.read() as conn:
            existing = await bstore.by_bid(conn, meta["bid"])
        if existing is None:
            raise
        return _repost(existing, digest)
    ex.hub.wake(recipients)
    ex.metrics.accepted.inc()
    return True, receipt


async def _insert(
    ex: Exchange,
    conn: Any,
    meta: dict[str, Any],
    client_id: str,
    info: EnvelopeInfo,
    text: str,
    digest: str,
) -> tuple[str, list[str]]:
    """Route, check the kids, store the bulletin with its deliveries and its log entry;
    in the caller's write transaction. Returns the receipt and the recipients."""
    state = await ex.views.get(conn)
    recipients = sorted(route(meta, meta["iss"], state.view))
    _check_kids(info, recipients, state.active_kid)
    await _check_supersedes(conn, meta)
    now = ex.clock.ms()  # under the log lock: accepted_at grows with seq
    deadline = ex.config.ack_deadlines.get(meta["priority"])
    seq = await bstore.insert_bulletin(
        conn,
        meta=meta,
        client_id=client_id,
        kid=info.kid,
        envelope=text,
        envelope_sha256=digest,
        recipients=recipients,
        accepted_at=now,
        deadline=None if deadline is None else now + deadline * 1000,
    )
    leaf = {
        "kind": "bulletin",
        "bid": meta["bid"],
        "seq": seq,
        "iss": meta["iss"],
        "client": client_id,
        "recipients": recipients,
        "envelope_sha256": digest,
        "accepted_at": now,
    }
    log_index = await audit_store.append(conn, leaf, now)
    receipt = _receipt(
        ex,
        {
            "bid": meta["bid"],
            "seq": seq,
            "iss": meta["iss"],
            "recipients": recipients,
            "envelope_sha256": digest,
            "accepted_at": iso_ms(now),
            "log_index": log_index,
        },
    )
    await bstore.set_receipt(conn, seq, log_index, receipt)
    return receipt, recipients


def _repost(existing: bstore.StoredBulletin, digest: str) -> tuple[bool, str]:
    if existing.envelope_sha256 != digest:  # PROTOCOL §5: a used bid with other bytes
        raise Conflict("this bid is already used by a different envelope")
    return False, existing.receipt


def _check_kids(info: EnvelopeInfo, recipients: list[str], active: dict[str, str]) -> None:
    """PROTOCOL §5: the JWE's recipient kids are exactly the active kids of the set."""
    missing = [p for p in recipients if p not in active]
    if missing:
        raise RecipientMismatch(
            f"no active encryption key for {', '.join(missing)}; they cannot be sealed to",
            expected_kids=sorted(active[p] for p in recipients if p in active),
            recipients=recipients,
        )
    expected = sorted(active[p] for p in recipients)
    if sorted(info.recipient_kids) != expected:
        raise RecipientMismatch(
            "the envelope's recipient keys are not the recipients' active keys; "
            "re-seal to expected_kids",
            expected_kids=expected,
            recipients=recipients,
        )


async def _check_supersedes(conn: Any, meta: dict[str, Any]) -> None:
    sup = meta["supersedes"]
    if sup is None:
        return
    earlier = await bstore.by_bid(conn, sup)
    if earlier is None or earlier.iss != meta["iss"]:
        raise InputError("supersedes must name an earlier bulletin of the same sender")
