"""Delivery: inbox pages, single bulletins, acks, the sender's ledger and escalations."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from sqlalchemy import Connection

from exchange.crypto import _json, jws
from exchange.crypto._b64 import b64u_encode
from exchange.crypto.keys import parse_signing_jwk
from exchange.errors import AuthError, Forbidden, InputError, NotFound, StorageError
from exchange.service import alerts
from exchange.service.clock import iso_ms
from exchange.service.core import Caller, Exchange
from exchange.store import audit as audit_store
from exchange.store import bulletins as bstore
from exchange.store import directory as dir_store

__all__ = [
    "ACK_STATUSES",
    "ack",
    "check_reader",
    "escalate",
    "get_bulletin",
    "inbox",
    "latest_seq",
    "ledger",
    "pending_deliveries",
    "reader_txn",
]

ACK_STATUSES = ("received", "read", "actioned")

#: The envelopes of one inbox page or stream read total at most this many bytes (one
#: item always fits): a page of max_page_size items of max_body each would be GBs.


async def inbox(
    ex: Exchange, caller: Caller, after: int, limit: int, *, unacked: bool = False
) -> tuple[list[dict[str, Any]], int]:
    caller.require("reader")
    page_bytes = ex.limits.page_bytes
    items, _more = await ex.db.run_read(
        lambda c: bstore.inbox_page_txn(c, caller.party, after, limit, page_bytes, unacked=unacked)
    )
    ex.marker.mark(caller.party, [i["seq"] for i in items])
    return items, items[-1]["seq"] if items else after


async def get_bulletin(ex: Exchange, caller: Caller, bid: str) -> dict[str, Any]:
    """The sender's or a recipient's party only; anyone else learns nothing (404). A
    recipient party's client needs the reader role: a delivery is marked only when the
    envelope reaches a client that can open and ack it (issue 17)."""
    async with ex.db.read() as conn:
        b = await bstore.by_bid(conn, bid)
    if b is None or (caller.party != b.iss and caller.party not in b.recipients):
        raise NotFound("no such bulletin for this party")
    if caller.party != b.iss:
        caller.require("reader")
    out = dict(b.item)
    out["accepted_at"] = iso_ms(b.accepted_at)
    out["envelope_sha256"] = b.envelope_sha256
    out["log_index"] = b.log_index
    if caller.party == b.iss:
        out["recipients"] = list(b.recipients)
        out["receipt"] = b.receipt
    else:
        ex.marker.mark(caller.party, [b.seq])
    return out


async def ack(ex: Exchange, caller: Caller, bid: str, body: bytes) -> tuple[bool, dict[str, Any]]:
    """A recipient's signed ack (PROTOCOL §7). Idempotent per (bid, party, status)."""
    caller.require("reader")
    async with ex.db.read() as conn:
        client = await dir_store.client_by_kid(conn, caller.kid)
        delivery = await bstore.delivery_of(conn, bid, caller.party)
        b = await bstore.by_bid(conn, bid) if delivery is not None else None
    if client is None:
        raise AuthError("unknown key")
    if delivery is None or b is None:
        raise NotFound("no such bulletin for this party")
    key = parse_signing_jwk(client.jwk)
    verified = jws.verify_compact(
        body, lambda k: key if k == key.kid else None, jws.TYP_ACK, max_header=ex.limits.max_header
    )
    status, iat = _ack_claims(ex, verified.payload, bid, caller.party, b.accepted_at)
    text = body.decode("ascii")
    async with ex.db.write() as conn:
        # Under the log lock, so that of two concurrent acks of one status the second
        # sees the first: one record, one log entry (PROTOCOL §7 idempotent, §8).
        await audit_store.lock_log(conn)
        existing = await bstore.ack_row(conn, bid, caller.party, status)
        if existing is None:
            # acks only move forward: a lower status after a higher one changes nothing
            # and answers the party's highest ack (docs/protocol.md, issue 17)
            existing = _higher_ack(await bstore.acks_of(conn, bid), caller.party, status)
        if existing is None:
            now = ex.clock.ms()
            leaf = {
                "kind": "ack",
                "bid": bid,
                "party": caller.party,
                "status": status,
                "client": caller.client_id,
                "iat": iat,
                "jws_sha256": b64u_encode(hashlib.sha256(body).digest()),
                "received_at": now,
            }
            idx = await audit_store.append(conn, leaf, now)
            row = bstore.AckRow(bid, caller.party, status, caller.client_id, iat, now, text, idx)
            if not await bstore.insert_ack(conn, row):
                raise StorageError("the ack could not be stored; retry")
    if existing is not None:
        return False, _ack_view(existing)
    ex.metrics.acks.labels(status).inc()
    ex.metrics.ack_latency.observe(max(0.0, (now - b.accepted_at) / 1000))
    ex.marker.mark(caller.party, [b.seq])
    return True, _ack_view(row)


_ACK_CLAIMS = frozenset({"bid", "party", "status", "iat"})


def _ack_claims(
    ex: Exchange, payload: bytes, bid: str, party: str, accepted_at: int
) -> tuple[str, int]:
    """The signed ack payload, read as strictly as an envelope (issue 17, defect 1): one
    strict JSON reader, exact members, each of its type, ``iat`` neither before the
    bulletin was accepted nor in the future, beyond the clock skew (defect 2)."""
    claims = _json.loads_object(payload, InputError, "ack payload", max_depth=2)
    if claims.keys() != _ACK_CLAIMS:
        raise InputError("ack payload must hold exactly bid, party, status and iat")
    if claims["bid"] != bid:
        raise InputError("ack names another bulletin")
    if claims["party"] != party:
        raise Forbidden("an ack is made for the acking client's own party")
    status = claims["status"]
    if not isinstance(status, str) or status not in ACK_STATUSES:
        raise InputError(f"status must be one of {', '.join(ACK_STATUSES)}")
    iat = claims["iat"]
    skew = ex.limits.clock_skew
    if type(iat) is not int:
        raise InputError("iat must be an integer time in seconds")
    if iat > ex.clock.seconds() + skew:
        raise InputError(f"iat must not be more than {skew} s in the future")
    if iat < accepted_at // 1000 - skew:
        raise InputError("iat must not be before the bulletin was accepted")
    return status, iat


def _higher_ack(acks: list[bstore.AckRow], party: str, status: str) -> bstore.AckRow | None:
    """The party's ack of the highest status above ``status``, if there is one."""
    rank = ACK_STATUSES.index(status)
    above = [a for a in acks if a.party == party and ACK_STATUSES.index(a.status) > rank]
    return max(above, key=lambda a: ACK_STATUSES.index(a.status), default=None)


def _ack_view(a: bstore.AckRow) -> dict[str, Any]:
    return {
        "bid": a.bid,
        "party": a.party,
        "status": a.status,
        "client": a.client_id,
        "iat": a.iat,
        "at": iso_ms(a.received_at),
        "log_index": a.log_index,
        "jws": a.jws,
    }


async def ledger(ex: Exchange, caller: Caller, bid: str) -> dict[str, Any]:
    """The sender's delivery ledger: per recipient party, delivered_at and each ack."""
    async with ex.db.read() as conn:
        b = await bstore.by_bid(conn, bid)
        if b is None or (caller.party != b.iss and not caller.is_admin):
            raise NotFound("no such bulletin sent by this party")
        rows = await bstore.deliveries_of(conn, bid)
        acks = await bstore.acks_of(conn, bid)
    now = ex.clock.ms()
    by_party: dict[str, list[dict[str, Any]]] = {}
    for a in acks:
        by_party.setdefault(a.party, []).append(_ack_view(a))
    recipients = []
    for d in rows:
        party_acks = by_party.get(d.party, [])
        recipients.append(
            {
                "party": d.party,
                "delivered_at": iso_ms(d.delivered_at),
                "deadline": iso_ms(d.deadline),
                "overdue": bool(d.deadline is not None and not party_acks and d.deadline < now),
                "acks": party_acks,
            }
        )
    return {
        "bid": bid,
        "iss": b.iss,
        "priority": b.item["priority"],
        "accepted_at": iso_ms(b.accepted_at),
        "recipients": recipients,
    }


def _reads(row: dir_store.ClientRow | None, party: str) -> bool:
    return (
        row is not None
        and row.status == "active"
        and row.lapsed is None
        and "reader" in row.roles
        and (row.party == party)
    )


def reader_txn(conn: Connection, caller: Caller) -> None:
    """In a stream's read transaction, after its items were read: the client is still an
    active reader of its party, or nothing read goes out (issue 17, defect 3). Anything
    committed before those items were read, a revocation included, is seen here."""
    if not _reads(dir_store.client_by_kid_txn(conn, caller.kid), caller.party):
        raise AuthError("this client's key was revoked or its reader role withdrawn")


async def check_reader(ex: Exchange, caller: Caller) -> None:
    """An open stream's periodic check. While a directory change of this node is in
    flight the cached row may predate its commit: read the database then."""
    if ex.hub.directory_changing:
        await ex.db.run_read(partial(reader_txn, caller=caller), single=True)
    elif not _reads(await ex.clients.by_kid(caller.kid), caller.party):
        raise AuthError("this client's key was revoked or its reader role withdrawn")


async def latest_seq(ex: Exchange) -> int:
    async with ex.db.read() as conn:
        return await bstore.latest_seq(conn)


async def pending_deliveries(ex: Exchange) -> int:
    async with ex.db.read() as conn:
        return await bstore.pending_count(conn)


async def escalate(ex: Exchange) -> int:
    """Mark overdue deliveries and tell the sender's streams (``escalation`` messages).
    Each overdue delivery is escalated once, also when several nodes run this job."""
    now = ex.clock.ms()
    async with ex.db.write() as conn:
        rows = [
            r
            for r in await bstore.overdue(conn, now)
            if await bstore.set_escalated(conn, r.party, r.seq, now)
        ]
        await alerts.escalated(ex, conn, rows, now)  # the sender's webhooks and mails
    for r in rows:
        ex.hub.notify(
            r.iss,
            {
                "kind": "escalation",
                "bid": r.bid,
                "party": r.party,
                "priority": r.priority,
                "deadline": iso_ms(r.deadline),
            },
        )
    return len(rows)
