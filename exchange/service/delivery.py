"""Delivery: inbox pages, single bulletins, acks, the sender's ledger and escalations."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from sqlalchemy import Connection

from exchange.config import Limits
from exchange.crypto import b64u_encode, jws, loads_object
from exchange.errors import AuthError, Forbidden, InputError, NotFound, StorageError
from exchange.service import alerts
from exchange.service.auth import KeyCache
from exchange.service.caller import Caller
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock, iso_ms
from exchange.service.hub import Hub
from exchange.service.marker import DeliveryMarker
from exchange.service.metrics import Metrics
from exchange.store import acks as ack_store
from exchange.store import audit as audit_store
from exchange.store import bulletins as bstore
from exchange.store import inbox as inbox_store
from exchange.store import parties as party_store
from exchange.store.db import Database
from exchange.vocab import ACK_STATUSES, iat_problem

__all__ = ["Delivery", "reader_txn"]


def _ack_reads(
    conn: Connection, caller: Caller, bid: str
) -> tuple[party_store.ClientRow | None, Any, bstore.StoredBulletin | None]:
    """What an ack is checked against: the acking key, its party's delivery, the bulletin."""
    client = party_store.client_by_kid(conn, caller.kid)
    delivery = inbox_store.delivery_of(conn, bid, caller.party)
    b = bstore.by_bid(conn, bid) if delivery is not None else None
    return client, delivery, b


_ACK_CLAIMS = frozenset({"bid", "party", "status", "iat"})


def _higher_ack(acks: list[ack_store.AckRow], party: str, status: str) -> ack_store.AckRow | None:
    """The party's ack of the highest status above ``status``, if there is one."""
    rank = ACK_STATUSES.index(status)
    above = [a for a in acks if a.party == party and ACK_STATUSES.index(a.status) > rank]
    return max(above, key=lambda a: ACK_STATUSES.index(a.status), default=None)


def _ack_view(a: ack_store.AckRow) -> dict[str, Any]:
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


def _reads(row: party_store.ClientRow | None, party: str) -> bool:
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
    if not _reads(party_store.client_by_kid(conn, caller.kid), caller.party):
        raise AuthError("this client's key was revoked or its reader role withdrawn")


class Delivery:
    """Inbox pages, single bulletins, acks, the sender's ledger and escalations of one
    node: the collaborators of each, named (ADR 0015)."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        limits: Limits,
        keys: KeyCache,
        clients: ClientCache,
        hub: Hub,
        marker: DeliveryMarker,
        metrics: Metrics,
        alerts_queue_max: int,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.keys = keys  # the token's key, parsed once (service/auth.py)
        self.clients = clients
        self.hub = hub
        self.marker = marker
        self.metrics = metrics
        self.alerts_queue_max = alerts_queue_max

    async def inbox(
        self, caller: Caller, after: int, limit: int, *, unacked: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        caller.require("reader")
        page_bytes = self.limits.page_bytes
        items, _more = await self.db.run_read(
            lambda c: inbox_store.inbox_page(
                c, caller.party, after, limit, page_bytes, unacked=unacked
            )
        )
        self.marker.mark(caller.party, [i["seq"] for i in items])
        return items, items[-1]["seq"] if items else after

    async def get_bulletin(self, caller: Caller, bid: str) -> dict[str, Any]:
        """The sender's or a recipient's party only; anyone else learns nothing (404). A
        recipient party's client needs the reader role: a delivery is marked only when the
        envelope reaches a client that can open and ack it (issue 17)."""
        b = await self.db.run_read(lambda c: bstore.by_bid(c, bid), single=True)
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
            self.marker.mark(caller.party, [b.seq])
        return out

    async def ack(self, caller: Caller, bid: str, body: bytes) -> tuple[bool, dict[str, Any]]:
        """A recipient's signed ack (PROTOCOL §7). Idempotent per (bid, party, status)."""
        caller.require("reader")
        client, delivery, b = await self.db.run_read(partial(_ack_reads, caller=caller, bid=bid))
        if client is None:
            raise AuthError("unknown key")
        if delivery is None or b is None:
            raise NotFound("no such bulletin for this party")
        key = self.keys.parse(caller.kid, client.jwk)  # the token's key: cached
        verified = jws.verify_compact(
            body,
            lambda k: key if k == key.kid else None,
            jws.TYP_ACK,
            max_header=self.limits.max_header,
        )
        status, iat = self._ack_claims(verified.payload, bid, caller.party, b.accepted_at)
        text = body.decode("ascii")

        def record(conn: Connection) -> tuple[bool, ack_store.AckRow, int]:
            # Under the log lock, so that of two concurrent acks of one status the second
            # sees the first: one record, one log entry (PROTOCOL §7 idempotent, §8).
            audit_store.lock_log(conn)
            existing = ack_store.ack_row(conn, bid, caller.party, status)
            if existing is None:
                # acks only move forward: a lower status after a higher one changes nothing
                # and answers the party's highest ack (docs/protocol.md, issue 17)
                existing = _higher_ack(ack_store.acks_of(conn, bid), caller.party, status)
            if existing is not None:
                return False, existing, 0
            now = self.clock.ms()
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
            readers = (caller.party, b.iss)  # the acking party and the sender (issue 17)
            idx = audit_store.append(conn, leaf, now, readers)
            row = ack_store.AckRow(bid, caller.party, status, caller.client_id, iat, now, text, idx)
            if not ack_store.insert_ack(conn, row):
                raise StorageError("the ack could not be stored; retry")
            return True, row, now

        created, row, now = await self.db.run_write(record)
        if not created:
            return False, _ack_view(row)
        self.metrics.acks.labels(status).inc()
        self.metrics.ack_latency.observe(max(0.0, (now - b.accepted_at) / 1000))
        self.marker.mark(caller.party, [b.seq])
        return True, _ack_view(row)

    def _ack_claims(
        self, payload: bytes, bid: str, party: str, accepted_at: int
    ) -> tuple[str, int]:
        """The signed ack payload, read as strictly as an envelope (issue 17, defect 1): one
        strict JSON reader, exact members, each of its type, ``iat`` neither before the
        bulletin was accepted nor in the future, beyond the clock skew (defect 2)."""
        claims = loads_object(payload, InputError, "ack payload", max_depth=2)
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
        skew = self.limits.clock_skew
        if type(iat) is not int:
            raise InputError("iat must be an integer time in seconds")
        late = iat_problem(iat, self.clock.seconds(), future=skew)
        if late:
            raise InputError(f"iat must not be {late}")
        if iat < accepted_at // 1000 - skew:
            raise InputError("iat must not be before the bulletin was accepted")
        return status, iat

    async def ledger(self, caller: Caller, bid: str) -> dict[str, Any]:
        """The sender's delivery ledger: per recipient party, delivered_at and each ack."""

        def read(
            conn: Connection,
        ) -> tuple[bstore.StoredBulletin, list[Any], list[ack_store.AckRow]]:
            b = bstore.by_bid(conn, bid)
            if b is None or (caller.party != b.iss and not caller.is_admin):
                raise NotFound("no such bulletin sent by this party")
            return b, inbox_store.deliveries_of(conn, bid), ack_store.acks_of(conn, bid)

        b, rows, acks = await self.db.run_read(read)
        now = self.clock.ms()
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

    async def check_reader(self, caller: Caller) -> None:
        """An open stream's periodic check. While a directory change of this node is in
        flight the cached row may predate its commit: read the database then."""
        if self.hub.directory_changing:
            await self.db.run_read(partial(reader_txn, caller=caller), single=True)
        elif not _reads(await self.clients.by_kid(caller.kid), caller.party):
            raise AuthError("this client's key was revoked or its reader role withdrawn")

    async def latest_seq(self) -> int:
        return await self.db.run_read(bstore.max_seq, single=True)

    async def escalate(self) -> int:
        """Mark overdue deliveries and tell the sender's streams (``escalation`` messages).
        Each overdue delivery is escalated once, also when several nodes run this job."""
        now = self.clock.ms()

        def mark(conn: Connection) -> list[Any]:
            rows = [
                r
                for r in ack_store.overdue(conn, now)
                if ack_store.set_escalated(conn, r.party, r.seq, now)
            ]
            # the sender's webhooks and mails
            alerts.escalated(conn, rows, now, self.alerts_queue_max)
            return rows

        rows = await self.db.run_write(mark)
        for r in rows:
            self.hub.notify(
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
