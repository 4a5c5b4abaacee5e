"""The console's memory: one SDK client, one stream, and the bulletins it opened.

Every bulletin is opened (decrypted and verified) here, on the State's machine; the
browser only ever sees the rendered result. Pages subscribe to change notices, which
the SSE endpoint forwards: one stream to the exchange, however many tabs are open."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from exchange.bulletin.validate import validate_bulletin
from exchange.client import Directory, ExchangeClient
from exchange.client.record import LocalRecord
from exchange.errors import ExchangeError

__all__ = ["ConsoleState", "Entry"]

_PAGE = 100


@dataclass
class Entry:
    """One inbox item as the console knows it: metadata always, the bulletin once opened."""

    seq: int
    bid: str
    meta: dict[str, Any]
    received_at: int
    bulletin: dict[str, Any] | None = None
    sender: str = ""
    sender_kid: str = ""
    error: str | None = None
    schema_problem: str | None = None

    @property
    def title(self) -> str:
        return str(self.bulletin["title"]) if self.bulletin else ""

    def expired(self, now: int) -> bool:
        exp = self.meta.get("exp")
        return isinstance(exp, int) and exp <= now


@dataclass
class ConsoleState:
    client: ExchangeClient
    record: LocalRecord
    entries: dict[str, Entry] = field(default_factory=dict)
    cursor: int = 0
    escalations: list[dict[str, Any]] = field(default_factory=list)
    listeners: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    stream_error: str | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def party(self) -> str:
        return self.client.party

    @property
    def can_read(self) -> bool:
        return self.client.encryption_key is not None

    async def directory(self, *, refresh: bool = False) -> Directory:
        return await self.client.directory(refresh=refresh)

    async def roles(self) -> frozenset[str]:
        """This client's roles, by the signed directory."""
        d = await self.directory()
        me: dict[str, Any] = next(
            (c for c in d.doc.get("clients", []) if c.get("id") == self.client.client_id), {}
        )
        return frozenset(me.get("roles", ()))

    async def is_admin(self) -> bool:
        return "admin" in await self.roles()

    # --- the stream ---------------------------------------------------------------------

    async def start(self) -> None:
        """Catch up by cursor, then follow the stream in the background."""
        if not self.can_read:
            return
        while True:
            items, nxt = await self.client.inbox(self.cursor, _PAGE)
            for item in items:
                await self.take(item)
            if not items or nxt <= self.cursor:
                break
            self.cursor = nxt
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        stream = cast(AsyncGenerator[dict[str, Any], None], self.client.stream(self.cursor))
        try:
            async with contextlib.aclosing(stream) as messages:
                async for msg in messages:
                    await self._message(msg)
        except ExchangeError as exc:
            self.stream_error = exc.detail
            self.notify({"kind": "error", "detail": exc.detail})

    async def _message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        if kind == "bulletin":
            entry = await self.take(msg)
            if entry is not None:
                self.notify({"kind": "bulletin", "bid": entry.bid, "seq": entry.seq})
        elif kind == "escalation":
            self.escalations.append(msg)
            self.notify({"kind": "escalation", "bid": str(msg.get("bid", ""))})

    async def take(self, item: dict[str, Any]) -> Entry | None:
        """Open one inbox item (once); a failed check is kept, with its reason."""
        bid = str(item.get("bid", ""))
        seq = int(item.get("seq", 0))
        self.cursor = max(self.cursor, seq)
        if bid in self.entries:
            return None
        meta = {k: v for k, v in item.items() if k not in {"envelope", "kind"}}
        entry = Entry(seq=seq, bid=bid, meta=meta, received_at=int(time.time()))
        try:
            opened = await self.client.open(str(item.get("envelope", "")))
        except ExchangeError as exc:
            entry.error = str(exc.extra.get("reason", exc.detail))
        else:
            entry.bulletin = opened.bulletin
            entry.sender_kid = opened.sender_kid
            d = await self.directory()
            client = d.client_of.get(opened.sender_kid)
            entry.sender = str(client["id"]) if client else opened.sender_kid
            try:
                validate_bulletin(dict(opened.bulletin))
            except ExchangeError as exc:
                entry.schema_problem = exc.detail
        self.entries[bid] = entry
        return entry

    # --- change notices for the pages -----------------------------------------------------

    def notify(self, event: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self.listeners.add(queue)
        try:
            yield queue
        finally:
            self.listeners.discard(queue)

    # --- acting on bulletins ----------------------------------------------------------------

    async def ack(self, bid: str, status: str) -> dict[str, Any]:
        out = await self.client.ack(bid, status)
        self.record.add_ack(bid, status)
        self.notify({"kind": "ack", "bid": bid})
        return out

    def thread(self, bid: str) -> list[Entry]:
        """Replies to ``bid`` that this State received, oldest first."""
        replies = [
            e
            for e in self.entries.values()
            if e.bulletin is not None and e.bulletin.get("in_reply_to") == bid
        ]
        return sorted(replies, key=lambda e: e.seq)

    def superseded_by(self, bid: str) -> list[Entry]:
        """Later bulletins that supersede or revoke ``bid``."""
        return sorted(
            (e for e in self.entries.values() if e.meta.get("supersedes") == bid),
            key=lambda e: e.seq,
        )
