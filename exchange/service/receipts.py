"""Receipts (PROTOCOL §5): signed after the admission commit, stored before they are sent.

Admission stamps ``accepted_at`` and commits a batch's bulletins with no receipt, hands
them to the live streams, and only then are the receipts signed (ADR 0019). A hybrid
server key's ML-DSA-65 signature costs about a millisecond each: signed inside the
admission transaction, a batch's signatures delayed its delivery and held the writer.

A receipt is answered only once it is stored, and a stored receipt is never replaced
(``UPDATE ... WHERE receipt = ''``), so a re-post, a sender's ``GET`` or a crash between
the two commits can never hand out two different receipts for one bulletin: whoever
stores first wins, and everyone answers with the stored one."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from exchange.audit.canonical import canonical_json
from exchange.crypto import jws
from exchange.crypto.keys import SigningKey
from exchange.errors import StorageError
from exchange.service.batch import Batcher
from exchange.service.clock import iso_ms
from exchange.store import bulletins as bstore
from exchange.store.db import Database

__all__ = ["ReceiptBody", "Receipts"]

log = logging.getLogger("exchange.receipts")


@dataclass(frozen=True)
class ReceiptBody:
    """What a receipt says (PROTOCOL §5): one accepted bulletin."""

    bid: str
    seq: int
    iss: str
    recipients: tuple[str, ...]
    envelope_sha256: str
    accepted_at: int
    log_index: int

    @classmethod
    def of(cls, b: bstore.StoredBulletin) -> ReceiptBody:
        return cls(b.bid, b.seq, b.iss, b.recipients, b.envelope_sha256, b.accepted_at, b.log_index)

    def payload(self) -> dict[str, Any]:
        return {
            "bid": self.bid,
            "seq": self.seq,
            "iss": self.iss,
            "recipients": sorted(self.recipients),
            "envelope_sha256": self.envelope_sha256,
            "accepted_at": iso_ms(self.accepted_at),
            "log_index": self.log_index,
        }


class Receipts(Batcher[ReceiptBody, str]):
    """Signs receipts off the event loop (the ML-DSA signature releases the GIL) and
    stores a batch of them in one transaction; each caller gets the stored receipt."""

    max_batch = 200

    def __init__(self, *, db: Database, signer: SigningKey) -> None:
        super().__init__()
        self.db = db
        self.signer = signer

    async def of(self, b: bstore.StoredBulletin) -> str:
        """The stored bulletin's receipt, signed and stored now if it has none yet."""
        return b.receipt or await self.submit(ReceiptBody.of(b))

    async def commit(self, items: list[ReceiptBody]) -> list[str | BaseException]:
        bodies = {body.bid: body for body in items}  # a re-post in flight: signed once
        try:
            signed = await asyncio.get_running_loop().run_in_executor(
                None, partial(self._sign, list(bodies.values()))
            )
        except Exception as exc:  # a token gone away, say: the bulletins stay accepted
            log.exception("signing %d receipts failed", len(bodies))
            raise StorageError(
                "the bulletin is accepted but its receipt could not be signed; "
                "post the same envelope again for it"
            ) from exc
        stored = await self.db.run_write(partial(bstore.set_receipts, receipts=signed))
        return [stored[body.bid] for body in items]

    def _sign(self, bodies: list[ReceiptBody]) -> dict[str, str]:
        return {
            b.bid: jws.sign_compact(canonical_json(b.payload()), self.signer, jws.TYP_RECEIPT)
            for b in bodies
        }
