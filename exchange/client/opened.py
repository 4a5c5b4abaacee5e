"""Opened bulletins for the State's own tools (the STIX/MISP bridges, the TAXII server).

The server holds only ciphertext, so a bridge works on what this party has opened: the
inbox is paged from a cursor, every envelope is opened and verified (PROTOCOL §3) and its
body checked against its schema, and the result can be kept in a local file so that a
TAXII server can serve it without opening everything again.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from exchange.bulletin.validate import validate_bulletin
from exchange.client.api import ExchangeClient
from exchange.errors import ExchangeError, InputError

__all__ = ["OpenedRecord", "OpenedStore", "Rejected", "open_one", "open_since"]


@dataclass(frozen=True)
class OpenedRecord:
    """A bulletin this party opened and verified, with where it came from."""

    seq: int
    bid: str
    bulletin: dict[str, Any]
    #: the client that signed it, from the server-signed directory (``KZ/ops``)
    sender: str
    #: the name of the issuing party in the directory (``iss`` when it has none)
    iss_name: str
    accepted_at: str | None = None
    log_index: int | None = None
    #: when this party's local store took it in (RFC 3339, ms); "" when not stored
    added: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenedRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Rejected:
    """An inbox item that failed a check; it is reported, never exported."""

    seq: int
    bid: str
    reason: str


async def _record(client: ExchangeClient, item: dict[str, Any], details: bool) -> OpenedRecord:
    opened = await client.open(str(item["envelope"]))
    validate_bulletin(dict(opened.bulletin))
    d = await client.directory()
    signer = d.client_of.get(opened.sender_kid, {})
    iss = str(opened.bulletin["iss"])
    names = {str(p["id"]): str(p.get("name") or p["id"]) for p in d.doc.get("parties", [])}
    info: dict[str, Any] = item
    if details and "log_index" not in item:
        info = await client.get(str(item["bid"]))
    log_index = info.get("log_index")
    return OpenedRecord(
        seq=int(item["seq"]),
        bid=str(opened.bulletin["bid"]),
        bulletin=dict(opened.bulletin),
        sender=str(signer.get("id", f"kid {opened.sender_kid}")),
        iss_name=names.get(iss, iss),
        accepted_at=info.get("accepted_at"),
        log_index=log_index if isinstance(log_index, int) else None,
    )


async def open_one(client: ExchangeClient, bid: str) -> OpenedRecord:
    """Fetch, open and verify one bulletin; a failure names it and says why."""
    item = await client.get(bid)
    try:
        return await _record(client, item, details=True)
    except ExchangeError as exc:
        raise InputError(f"bulletin {bid} rejected: {exc.detail}") from exc


async def open_since(
    client: ExchangeClient, after: int = 0, *, limit: int = 100, details: bool = True
) -> AsyncIterator[OpenedRecord | Rejected]:
    """Every inbox item after the cursor ``after``, opened and verified, in seq order.

    With ``details`` each bulletin is also fetched once for its ``accepted_at`` and audit
    ``log_index`` (the inbox item does not carry them)."""
    while True:
        items, nxt = await client.inbox(after, limit)
        if not items:
            return
        for item in items:
            try:
                yield await _record(client, item, details)
            except ExchangeError as exc:
                yield Rejected(int(item["seq"]), str(item.get("bid")), exc.detail)
        if nxt <= after:
            return
        after = nxt


def _iso_ms(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class OpenedStore:
    """The opened bulletins kept in one JSON-lines file (mode 0600: it is plaintext).

    Each record gets an ``added`` time that strictly increases within the store, so that a
    TAXII client's ``added_after`` never misses or repeats a bulletin. Rejected items are
    kept as ``{"rejected": …}`` lines so that the cursor moves past them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[OpenedRecord] = []
        self.rejected: list[Rejected] = []
        self.cursor = 0
        self._bids: set[str] = set()
        self._last: datetime | None = None

    @classmethod
    def load(cls, path: Path) -> OpenedStore:
        store = cls(path)
        if not path.exists():
            return store
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if "rejected" in data:
                    store._remember(Rejected(**data["rejected"]))
                else:
                    store._remember(OpenedRecord.from_json(data))
            except (ValueError, TypeError, KeyError) as exc:
                raise InputError(f"{path}:{number}: not an opened-bulletin record") from exc
        return store

    def _remember(self, r: OpenedRecord | Rejected) -> None:
        self.cursor = max(self.cursor, r.seq)
        if isinstance(r, Rejected):
            self.rejected.append(r)
            return
        self.records.append(r)
        self._bids.add(r.bid)
        if r.added:
            self._last = datetime.fromisoformat(r.added.replace("Z", "+00:00"))

    def _next_added(self) -> str:
        now = datetime.now(UTC)
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last = now
        return _iso_ms(now)

    def _append(self, lines: list[str]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write("".join(lines))

    async def sync(self, client: ExchangeClient) -> tuple[list[OpenedRecord], list[Rejected]]:
        """Open everything after the cursor and keep it; returns what was new."""
        new: list[OpenedRecord] = []
        bad: list[Rejected] = []
        async for r in open_since(client, self.cursor):
            if isinstance(r, Rejected):
                bad.append(r)
                line = json.dumps({"rejected": asdict(r)}, ensure_ascii=False)
            elif r.bid in self._bids:
                self.cursor = max(self.cursor, r.seq)
                continue
            else:
                r = OpenedRecord(**{**asdict(r), "added": self._next_added()})
                new.append(r)
                line = json.dumps(r.to_json(), ensure_ascii=False)
            await asyncio.to_thread(self._append, [line + "\n"])
            self._remember(r)
        return new, bad
