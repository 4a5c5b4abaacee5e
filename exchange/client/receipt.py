"""The server's signed receipt for an admitted bulletin (PROTOCOL §7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from exchange.crypto import jws
from exchange.crypto.keys import SigningPublicKey

__all__ = ["Receipt", "verify_receipt"]


@dataclass(frozen=True)
class Receipt:
    """A verified server receipt (PROTOCOL §7)."""

    token: str
    bid: str
    seq: int
    iss: str
    recipients: tuple[str, ...]
    envelope_sha256: str
    accepted_at: str
    log_index: int
    created: bool


def verify_receipt(token: str, keys: Callable[[str], SigningPublicKey | None]) -> Receipt:
    """Check the receipt's signature by the server key ``keys`` finds for its kid (the
    current one, or one it rotated away from after the receipt, issue 18) and read its
    claims."""
    v = jws.verify_compact(token, keys, jws.TYP_RECEIPT)
    p = json.loads(v.payload)
    return Receipt(
        token=token,
        bid=p["bid"],
        seq=p["seq"],
        iss=p["iss"],
        recipients=tuple(p["recipients"]),
        envelope_sha256=p["envelope_sha256"],
        accepted_at=p["accepted_at"],
        log_index=p["log_index"],
        created=True,
    )
