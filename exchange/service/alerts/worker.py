"""The alert worker of one node: queue new bulletins' alerts, claim due deliveries,
push or mail them, record the outcome (docs/alerts.md).

At least once: a delivery is marked done only after its endpoint answered 2xx (or the
relay took the mail); a node that stops mid-send leaves a lease that expires, and the
delivery is tried again, with the same ``nonce`` for the receiver to drop the repeat."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from exchange.config import AlertsConfig
from exchange.crypto.keys import SigningKey
from exchange.errors import EndpointRefused, ExchangeError
from exchange.service.alerts import mail
from exchange.service.alerts.outbox import backoff, fanout_txn
from exchange.service.alerts.signing import sign_push
from exchange.service.alerts.ssrf import (
    AddressPolicy,
    AddressRefused,
    GuardedResolver,
    parse_url,
)
from exchange.service.clock import Clock, iso_ms
from exchange.service.marker import DeliveryMarker
from exchange.store import alerts as astore
from exchange.store.db import Database

__all__ = ["AlertWorker", "PushFailed", "background", "push_body"]

log = logging.getLogger("exchange.alerts")

REFUSED = "the endpoint's address is not allowed"


class PushFailed(Exception):
    """The endpoint did not take the push (a status other than 2xx)."""


def push_body(c: astore.Claimed, created_ms: int, envelope: str | None) -> bytes:
    """The JSON of one push: routing metadata only, and the sealed envelope in
    ``envelope`` mode. Never plaintext: the server has none."""
    info = c.info
    body: dict[str, Any] = {
        "id": c.nonce,
        "event": c.event,
        "party": c.endpoint.party,
        "created": iso_ms(created_ms),
        "bulletin": {k: info[k] for k in ("bid", "sender", "type", "priority", "tlp", "seq")},
    }
    if c.event == "escalation":
        body["overdue"] = {"party": info["overdue"], "deadline": iso_ms(info["deadline"])}
    if envelope is not None:
        body["envelope"] = envelope
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, AddressRefused):
        return REFUSED
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


class AlertWorker:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        signer: SigningKey,
        marker: DeliveryMarker,
        config: AlertsConfig,
    ) -> None:
        self.db = db
        self.clock = clock
        self.signer = signer  # signs each push (alerts/signing.py)
        self.marker = marker  # an envelope push delivers, as a stream push does
        self.cfg = config
        self.owner = str(uuid.uuid4())
        self.policy = AddressPolicy(self.cfg.allow_networks)
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._seen = -1
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    resolver=GuardedResolver(self.policy), limit=self.cfg.concurrency
                ),
                trust_env=False,  # no proxy from the environment between us and the check
                auto_decompress=False,
            )
        return self._session

    async def fanout(self) -> None:
        db = self.db
        latest = await db.run_read(astore.max_seq, single=True)
        while self._seen < latest:
            self._seen = await db.run_write(
                partial(fanout_txn, now=self.clock.ms(), queue_max=self.cfg.queue_max)
            )

    async def tick(self) -> int:
        """One round: fan out, then claim and start what is due. Returns deliveries started."""
        await self.fanout()
        free = self.cfg.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        due = await self.db.run_read(astore.next_due, single=True)
        if due is None or due > self.clock.ms():
            return 0
        claimed = await self.db.run_write(
            partial(
                astore.claim,
                now=self.clock.ms(),
                owner=self.owner,
                lease_ms=int(self.cfg.lease * 1000),
                limit=free,
            )
        )
        for c in claimed:
            task = asyncio.create_task(self._deliver(c))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except ExchangeError as exc:
                log.warning("alerts round failed: %s", exc.code)
            except Exception:
                log.exception("alerts round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    async def _deliver(self, c: astore.Claimed) -> None:
        db = self.db
        try:
            if c.endpoint.kind == "webhook":
                await self._push(c)
            else:
                await self._mail(c)
        except asyncio.CancelledError:
            raise  # shutdown: the lease expires and the delivery is tried again
        except Exception as exc:
            error = _describe(exc)
            now = self.clock.ms()
            tries = c.attempts + 1
            next_at = None
            if tries < self.cfg.max_attempts:
                delay = backoff(tries, self.cfg.backoff_base, self.cfg.backoff_max)
                next_at = now + int(delay * 1000)
            log.warning(
                "alert %s to endpoint %s failed (try %d): %s%s",
                c.nonce,
                c.endpoint.id,
                tries,
                error,
                "; dead-lettered" if next_at is None else "",
            )
            with contextlib.suppress(ExchangeError):
                await db.run_write(
                    lambda conn: astore.retry(conn, c.id, self.owner, now, next_at, error)
                )
            return
        now = self.clock.ms()
        try:
            done = await db.run_write(lambda conn: astore.finish(conn, c.id, self.owner, now))
        except ExchangeError as exc:  # the lease expires and it is sent again: at least once
            log.warning("alert %s sent but not recorded: %s", c.nonce, exc.code)
            return
        if done and c.event == "bulletin" and c.endpoint.mode == "envelope":
            # the sealed bulletin reached the party's system, as a stream push does
            self.marker.mark(c.endpoint.party, [c.seq])

    async def _push(self, c: astore.Claimed) -> None:
        url = c.endpoint.target
        _scheme, host, _port = parse_url(url)
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)  # aiohttp connects to a literal without resolving
            if not self.policy.permits(host):
                raise EndpointRefused(REFUSED)
        envelope = None
        if c.event == "bulletin" and c.endpoint.mode == "envelope":
            envelope = await self.db.run_read(partial(astore.envelope, seq=c.seq), single=True)
        now = self.clock.ms()
        body = push_body(c, now, envelope)
        headers = sign_push(self.signer, url, body, nonce=c.nonce, created=now // 1000)
        headers["Avsec-Event"] = c.event
        timeout = aiohttp.ClientTimeout(total=self.cfg.webhook_timeout)
        async with self._http().post(
            url, data=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as resp:
            if not 200 <= resp.status < 300:
                raise PushFailed(f"HTTP {resp.status}")

    async def _mail(self, c: astore.Claimed) -> None:
        msg = mail.compose(
            self.cfg,
            to=c.endpoint.target,
            party=c.endpoint.party,
            event=c.event,
            info=c.info,
            nonce=c.nonce,
            now=self.clock.seconds(),
        )
        await mail.send(self.cfg, msg)

    async def close(self) -> None:
        tasks = list(self._inflight)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


def background(
    make: Callable[[], AlertWorker],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running the alert worker ``make`` builds for the app's lifetime."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        worker = make()
        task = asyncio.create_task(worker.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()

    return ctx
