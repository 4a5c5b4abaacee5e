"""Admission of a sealed bulletin (PROTOCOL §5, §7 ``POST /v1/bulletins``).

Cheap checks and the outer signature come first, outside any transaction; routing,
the recipient-kid check, the insert of the bulletin with its deliveries, and its audit
leaf then happen in one write transaction: a bulletin is accepted whole or not at all.
Concurrent admissions share that transaction (group commit), each with its own outcome."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
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
    StorageError,
    UnknownKey,
)
from exchange.routing import recipients as route
from exchange.service.batch import Batcher
from exchange.service.clock import iso_ms
from exchange.service.hub import Arrival
from exchange.service.signing_policy import check_key
from exchange.store import audit as audit_store
from exchange.store import bulletins as bstore

if TYPE_CHECKING:
    from exchange.service.core import Caller, Exchange

__all__ = ["Admissions", "admit"]

log = logging.getLogger("exchange.admission")


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
    client = await ex.clients.by_kid(kid)
    if client is None or client.status != "active" or client.lapsed:
        raise UnknownKey("the envelope's signing key is not an active client key")
    if "poster" not in client.roles:
        raise Forbidden("the envelope's signing key is not a poster's")
    if client.party != caller.party:
        raise Forbidden("an envelope must be signed by a client of the posting party")
    key = parse_signing_jwk(client.jwk)
    check_key(client.hybrid_required, key, Forbidden)  # issue 20 policy
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


def _check_fresh(ex: Exchange, meta: dict[str, Any]) -> None:
    """Issue 17: a bulletin already expired, or dated more than ``Limits.past_iat``
    before now, is refused when first posted (a stale alert is not news; a back-dated
    one would sort into readers' histories as if sent long ago)."""
    now = ex.clock.seconds()
    if meta["exp"] is not None and meta["exp"] <= now:
        raise InputError("the bulletin has already expired (exp is not after now)")
    if meta["iat"] < now - ex.limits.past_iat:
        raise InputError(f"iat is more than {ex.limits.past_iat} s in the past")


def _receipt(ex: Exchange, body: dict[str, Any]) -> str:
    return jws.sign_compact(canonical_json(body), ex.signer, jws.TYP_RECEIPT)


@dataclass(frozen=True)
class _Request:
    """A verified envelope waiting for its admission transaction."""

    meta: dict[str, Any]
    client_id: str
    info: EnvelopeInfo
    text: str
    digest: str


@dataclass(frozen=True)
class _Outcome:
    created: bool
    receipt: str
    arrival: Arrival | None = None


@dataclass(frozen=True)
class _Known:
    """What a later item of the same batch needs to know of a stored bulletin."""

    iss: str
    envelope_sha256: str
    receipt: str


class Admissions(Batcher[_Request, _Outcome]):
    """Group commit of admissions: concurrent posts share one transaction (one fsync),
    each keeping its own outcome. The log lock is taken once per batch; the batch's
    seqs, log leaves, receipts, bulletins and deliveries are written with a handful of
    statements (issue 8)."""

    max_batch = 100

    def __init__(self, ex: Exchange) -> None:
        super().__init__()
        self.ex = ex

    async def commit(self, items: list[_Request]) -> list[_Outcome | BaseException]:
        try:
            outcomes = await self.ex.db.run_write(partial(_admit_txn, self.ex, items))
        except StorageError:
            raise
        except Exception as exc:
            if len(items) == 1:
                outcomes = [_unforeseen(exc)]
            else:  # something no check foresaw failed the batch: isolate it
                outcomes = [await self._alone(item) for item in items]
        # Committed: hand the bulletins to the live streams, here in the one flusher
        # and in seq order (not in each request, which its client may abandon).
        arrivals = [o.arrival for o in outcomes if isinstance(o, _Outcome) and o.arrival]
        self.ex.metrics.accepted.inc(len(arrivals))
        try:
            self.ex.hub.publish(arrivals)
        except Exception:  # never fail what is stored: the streams read the database
            log.exception("live delivery of an admitted batch failed")
            self.ex.hub.wake_all()
        return outcomes

    async def _alone(self, item: _Request) -> _Outcome | BaseException:
        try:
            return (await self.ex.db.run_write(partial(_admit_txn, self.ex, [item])))[0]
        except Exception as exc:
            return _unforeseen(exc)


def _unforeseen(exc: Exception) -> BaseException:
    if isinstance(exc, IntegrityError):  # unreachable under the log lock: 503, not 500
        return StorageError("the bulletin could not be stored; post it again")
    return exc


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
    _check_times(ex, meta)  # a re-post passed these when it was first accepted
    request = _Request(meta, client_id, info, envelope.decode("ascii"), b64u_encode(info.sha256))
    outcome = await ex.admissions.submit(request)
    return outcome.created, outcome.receipt


def _admit_txn(
    ex: Exchange, items: list[_Request], conn: Connection
) -> list[_Outcome | BaseException]:
    """One write transaction for a batch: route, check the kids, store each bulletin with
    its deliveries and its log entry. Runs in the writer (a thread on SQLite)."""
    audit_store.lock_log_txn(conn)  # seq order == commit order (ADR 0005)
    state = ex.views.get_txn(conn)
    known = {
        bid: _Known(b.iss, b.envelope_sha256, b.receipt)
        for bid, b in bstore.by_bids_txn(conn, sorted({r.meta["bid"] for r in items})).items()
    }
    seq = bstore.max_seq_txn(conn)
    log = audit_store.Appender(conn)
    rows: list[bstore.NewBulletin] = []
    out: list[_Outcome | BaseException] = []
    now = 0
    for r in items:
        meta = r.meta
        try:
            prior = known.get(meta["bid"])
            if prior is not None:
                # PROTOCOL §5: a re-post is answered with its receipt (or 409), even if
                # it would not route today.
                out.append(_repost(prior, r.digest))
                continue
            _check_fresh(ex, meta)  # after the re-post check: a retry gets its receipt
            recipients = sorted(route(meta, meta["iss"], state.view))
            _check_kids(r.info, recipients, state.active_kid)
            _check_supersedes(conn, meta, known)
        except ExchangeError as exc:
            out.append(exc)
            continue
        seq += 1
        now = max(now, ex.clock.ms())  # under the log lock: accepted_at grows with seq
        deadline = ex.config.ack_deadlines.get(meta["priority"])
        log_index = log.add(
            {
                "kind": "bulletin",
                "bid": meta["bid"],
                "seq": seq,
                "iss": meta["iss"],
                "client": r.client_id,
                "recipients": recipients,
                "envelope_sha256": r.digest,
                "accepted_at": now,
            },
            now,
        )
        receipt = _receipt(
            ex,
            {
                "bid": meta["bid"],
                "seq": seq,
                "iss": meta["iss"],
                "recipients": recipients,
                "envelope_sha256": r.digest,
                "accepted_at": iso_ms(now),
                "log_index": log_index,
            },
        )
        rows.append(
            bstore.NewBulletin(
                seq=seq,
                meta=meta,
                client_id=r.client_id,
                kid=r.info.kid,
                envelope=r.text,
                envelope_sha256=r.digest,
                recipients=recipients,
                accepted_at=now,
                deadline=None if deadline is None else now + deadline * 1000,
                log_index=log_index,
                receipt=receipt,
            )
        )
        known[meta["bid"]] = _Known(meta["iss"], r.digest, receipt)
        out.append(_Outcome(True, receipt, Arrival(rows[-1].item(), recipients)))
    bstore.insert_bulletins_txn(conn, rows)
    log.flush()
    return out


def _repost(prior: _Known, digest: str) -> _Outcome:
    if prior.envelope_sha256 != digest:  # PROTOCOL §5: a used bid with other bytes
        raise Conflict("this bid is already used by a different envelope")
    return _Outcome(False, prior.receipt)


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


def _check_supersedes(conn: Connection, meta: dict[str, Any], known: dict[str, _Known]) -> None:
    sup = meta["supersedes"]
    if sup is None:
        return
    earlier = known.get(sup)
    if earlier is None:
        stored = bstore.by_bid_txn(conn, sup)
        earlier = None if stored is None else _Known(stored.iss, "", "")
    if earlier is None or earlier.iss != meta["iss"]:
        raise InputError("supersedes must name an earlier bulletin of the same sender")
