"""What this client did that the server will not tell it back: the bulletins it sent
(the sender is not a recipient, so its own inbox never holds them) and its own acks
(the ledger is the sender's). Kept in one JSON file in the profile folder (mode 0600:
titles are plaintext), or in memory only when no file is given."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.client.receipt import Receipt
from exchange.vocab import ACK_STATUSES

__all__ = ["LocalRecord", "SentItem"]


@dataclass
class SentItem:
    bid: str
    title: str
    type: str
    priority: str
    tlp: str
    lang: str
    seq: int
    log_index: int
    recipients: list[str]
    posted_at: int


@dataclass
class LocalRecord:
    path: Path | None = None
    sent: dict[str, SentItem] = field(default_factory=dict)
    acks: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> LocalRecord:
        record = cls(path)
        if path is None or not path.exists():
            return record
        try:
            data = json.loads(path.read_text("utf-8"))
            record.sent = {b: SentItem(**item) for b, item in data.get("sent", {}).items()}
            record.acks = {b: list(s) for b, s in data.get("acks", {}).items()}
        except (ValueError, TypeError, AttributeError):
            return cls(path)  # unreadable: start afresh rather than refuse to start
        return record

    def save(self) -> None:
        if self.path is None:
            return
        data = {"sent": {b: s.__dict__ for b, s in self.sent.items()}, "acks": self.acks}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, self.path)

    def add_sent(self, bulletin: dict[str, Any], receipt: Receipt) -> SentItem:
        item = SentItem(
            bid=receipt.bid,
            title=str(bulletin["title"]),
            type=str(bulletin["type"]),
            priority=str(bulletin["priority"]),
            tlp=str(bulletin["tlp"]),
            lang=str(bulletin["lang"]),
            seq=receipt.seq,
            log_index=receipt.log_index,
            recipients=list(receipt.recipients),
            posted_at=int(time.time()),
        )
        self.sent[receipt.bid] = item
        self.save()
        return item

    def add_ack(self, bid: str, status: str) -> None:
        done = self.acks.setdefault(bid, [])
        if status not in done:
            done.append(status)
            done.sort(key=ACK_STATUSES.index)
            self.save()

    def ack_state(self, bid: str) -> str | None:
        """The furthest status this client acknowledged, or None."""
        done = self.acks.get(bid)
        return done[-1] if done else None
