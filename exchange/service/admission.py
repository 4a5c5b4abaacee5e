"""Admission of a sealed bulletin (PROTOCOL §5, §7 ``POST /v1/bulletins``).

Cheap checks and the outer signature come first, outside any transaction; routing,
the recipient-kid check, the insert of the bulletin with its deliveries, and its audit
leaf then happen in one write transaction: a bulletin is accepted whole or not at all.
Concurrent admissions share that transaction (group commit), each with its own outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from exchange.audit.canonical import canonical_json
from exchange.bulletin.validate import validate_metadata
from exchange.config import Limits
from exchange.crypto import b64u_encode, jws
from exchange.crypto.envelope import EnvelopeInfo, verify_envelope
from exchange.crypto.keys import SigningKey, SigningPublicKey
from exchange.errors import (
    AuthError,
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
from exchange.service.auth import KeyCache
from exchange.service.batch import Batcher
from exchange.service.caller import Caller, TokenId
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock, iso_ms
from exchange.service.hub import Arrival, Hub
from exchange.service.metrics import Metrics
from exchange.service.signing_policy import check_key
from exchange.service.spend import REPLAYED, JtiSpender
from exchange.service.view import ViewCache
from exchange.store import audit as audit_store
from exchange.store import bulletins as bstore
from exchange.store import replay
from exchange.store.db import Database
from exchange.vocab import KID_RE, iat_problem

__all__ = ["Admissions"]

log = logging.getLogger("exchange.admission")


async def _sender_key(
    adm: Admissions, envelope: bytes, caller: Caller
) -> tuple[str, SigningPublicKey]:
    """PROTOCOL §5: the outer JWS's kid must be an active poster client of ``iss``'s
    party (the caller's; ``iss`` is compared after the signature is checked)."""
    try:
        header = jws.peek_header(envelope, max_header=adm.limits.max_header)
    except ExchangeError:
        raise
    except Exception as exc:  # pragma: no cover - peek_header raises library errors only
        raise MalformedEnvelope("envelope is not a compact JWS") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID_RE.fullmatch(kid):
        raise MalformedEnvelope("envelope header has no usable kid")
    if kid == caller.kid:
        own = adm.keys.get(kid)
        if own is not None:
            # The usual case: signed by the posting client itself, whose key, status and
            # roles the request's authentication has just read (and require("poster")
            # checked); authentication left the parsed key in the shared cache.
            return caller.client_id, own
    client = await adm.clients.by_kid(kid)
    if client is None or client.status != "active" or client.lapsed:
        raise UnknownKey("the envelope's signing key is not an active client key")
    if "poster" not in client.roles:
        raise Forbidden("the envelope's signing key is not a poster's")
    if client.party != caller.party:
        raise Forbidden("an envelope must be signed by a client of the posting party")
    key = adm.keys.parse(kid, client.jwk)
    check_key(client.hybrid_required, key, Forbidden)  # issue 20 policy
    return client.id, key


def _check_times(adm: Admissions, meta: dict[str, Any]) -> None:
    now = adm.clock.seconds()
    late = iat_problem(meta["iat"], now, future=adm.limits.future_iat)  # PROTOCOL §5
    if late:
        raise InputError(f"iat is {late}")
    if meta["exp"] is not None and meta["exp"] <= meta["iat"]:
        raise InputError("exp must be after iat")
    if meta["v"] != 1:
        raise InputError("unsupported bulletin version")
    if meta["type"] == "revocation" and meta["supersedes"] is None:
        raise InputError("a revocation must name the bulletin it withdraws in 'supersedes'")


def _check_fresh(adm: Admissions, meta: dict[str, Any]) -> None:
    """Issue 17: a bulletin already expired, or dated more than ``Limits.past_iat``
    before now, is refused when first posted (a stale alert is not news; a back-dated
    one would sort into readers' histories as if sent long ago)."""
    now = adm.clock.seconds()
    if meta["exp"] is not None and meta["exp"] <= now:
        raise InputError("the bulletin has already expired (exp is not after now)")
    stale = iat_problem(meta["iat"], now, future=adm.limits.future_iat, past=adm.limits.past_iat)
    if stale:
        raise InputError(f"iat is {stale}")


def _receipt(adm: Admissions, body: dict[str, Any]) -> str:
    return jws.sign_compact(canonical_json(body), adm.signer, jws.TYP_RECEIPT)


@dataclass(frozen=True)
class _Request:
    """A verified envelope waiting for its admission transaction."""

    meta: dict[str, Any]
    client_id: str
    info: EnvelopeInfo
    text: str
    digest: str
    token: TokenId  # the request token's jti, spent in the transaction (ADR 0020)


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

    def __init__(
        self,
        *,
        db: Database,
        signer: SigningKey,
        clock: Clock,
        limits: Limits,
        ack_deadlines: dict[str, int],
        hub: Hub,
        metrics: Metrics,
        views: ViewCache,
        clients: ClientCache,
        keys: KeyCache,
        jtis: JtiSpender,
    ) -> None:
        super().__init__()
        self.db = db
        self.signer = signer
        self.clock = clock
        self.limits = limits
        self.ack_deadlines = ack_deadlines
        self.hub = hub
        self.metrics = metrics
        self.views = views
        self.clients = clients
        self.keys = keys
        self.jtis = jtis  # for a post refused before its transaction

    async def admit(self, caller: Caller, token: TokenId, envelope: bytes) -> tuple[bool, str]:
        """Accept ``envelope``; returns (created, receipt JWS). A re-post of the same
        bytes returns the original receipt with created False. The request token's
        ``jti`` is spent in the admission transaction (ADR 0020): one write per post."""
        try:
            request = await _verified(self, caller, token, envelope)
        except ExchangeError:
            await self.spend_refused(token)
            raise
        outcome = await self.submit(request)
        return outcome.created, outcome.receipt

    async def spend_refused(self, token: TokenId) -> None:
        """Spend the ``jti`` of a post refused before its transaction, so that its
        replay is refused as a replay (401), as every other request's is."""
        await self.jtis.spend_token(token)

    async def commit(self, items: list[_Request]) -> list[_Outcome | BaseException]:
        try:
            outcomes = await self.db.run_write(partial(_admit_txn, self, items))
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
        self.metrics.accepted.inc(len(arrivals))
        try:
            self.hub.publish(arrivals)
        except Exception:  # never fail what is stored: the streams read the database
            log.exception("live delivery of an admitted batch failed")
            self.hub.wake_all()
        return outcomes

    async def _alone(self, item: _Request) -> _Outcome | BaseException:
        try:
            return (await self.db.run_write(partial(_admit_txn, self, [item])))[0]
        except Exception as exc:
            return _unforeseen(exc)


def _unforeseen(exc: Exception) -> BaseException:
    if isinstance(exc, IntegrityError):  # unreachable under the log lock: 503, not 500
        return StorageError("the bulletin could not be stored; post it again")
    return exc


async def _verified(adm: Admissions, caller: Caller, token: TokenId, envelope: bytes) -> _Request:
    caller.require("poster")
    client_id, key = await _sender_key(adm, envelope, caller)
    info: EnvelopeInfo = verify_envelope(
        envelope,
        lambda k: key if k == key.kid else None,
        max_size=adm.limits.max_body,
        max_recipients=adm.limits.max_recipients,
    )
    # PROTOCOL §4: the server cannot read the body, but every routing field it stores,
    # routes, filters and escalates on must be in the vocabulary (a UUID bid, a known
    # type, priority and tlp), or one sender could poison its recipients' streams.
    meta = validate_metadata(info.metadata)
    if meta["iss"] != caller.party:
        raise Forbidden("iss must be the posting party")
    _check_times(adm, meta)  # a re-post passed these when it was first accepted
    text = envelope.decode("ascii")
    return _Request(meta, client_id, info, text, b64u_encode(info.sha256), token)


def _admit_txn(
    adm: Admissions, items: list[_Request], conn: Connection
) -> list[_Outcome | BaseException]:
    """One write transaction for a batch: route, check the kids, store each bulletin with
    its deliveries and its log entry. Runs in the writer (a thread on SQLite)."""
    audit_store.lock_log(conn)  # seq order == commit order (ADR 0005)
    # PROTOCOL §6: each request token once. Spent here, in the admission's own write
    # (ADR 0020), before anything else: a replayed post is refused, not re-answered.
    unspent = replay.use_jtis(conn, list({r.token.jti: r.token.exp for r in items}.items()))
    state = adm.views.get_txn(conn)
    known = {
        bid: _Known(b.iss, b.envelope_sha256, b.receipt)
        for bid, b in bstore.by_bids(conn, sorted({r.meta["bid"] for r in items})).items()
    }
    seq = bstore.max_seq(conn)
    log = audit_store.Appender(conn)
    rows: list[bstore.NewBulletin] = []
    out: list[_Outcome | BaseException] = []
    now = 0
    for r in items:
        meta = r.meta
        if r.token.jti not in unspent:
            out.append(AuthError(REPLAYED))
            continue
        unspent.discard(r.token.jti)  # a second use within the batch is a replay too
        try:
            prior = known.get(meta["bid"])
            if prior is not None and prior.iss == meta["iss"]:
                # PROTOCOL §5: a re-post is answered with its receipt (or 409), even if
                # it would not route today.
                out.append(_repost(prior, r.digest))
                continue
            _check_fresh(adm, meta)  # after the re-post check: a retry gets its receipt
            recipients = sorted(route(meta, meta["iss"], state.view))
            _check_kids(r.info, recipients, state.active_kid)
            _check_supersedes(conn, meta, known)
            if prior is not None:
                # Another sender's bid (issue 17): met only by a post that would be
                # accepted under a fresh bid, with the same answer as any used bid.
                raise Conflict(_USED)
        except ExchangeError as exc:
            out.append(exc)
            continue
        seq += 1
        now = max(now, adm.clock.ms())  # under the log lock: accepted_at grows with seq
        deadline = adm.ack_deadlines.get(meta["priority"])
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
            readers=[meta["iss"], *recipients],  # issue 17: a committed leaf
        )
        receipt = _receipt(
            adm,
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
    bstore.insert_bulletins(conn, rows)
    log.flush()
    return out


_USED = "this bid is already used by a different envelope"


def _repost(prior: _Known, digest: str) -> _Outcome:
    if prior.envelope_sha256 != digest:  # PROTOCOL §5: a used bid with other bytes
        raise Conflict(_USED)
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
        stored = bstore.by_bid(conn, sup)
        earlier = None if stored is None else _Known(stored.iss, "", "")
    if earlier is None or earlier.iss != meta["iss"]:
        raise InputError("supersedes must name an earlier bulletin of the same sender")
