"""Registering, listing and removing a party's alert endpoints, and its dead letters.

An admin manages any party's endpoints; a party's reader manages its own party's (the
alerts carry what that reader could fetch anyway). Another party's endpoint is answered
as not found, so a party learns nothing of another's."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from exchange.config import AlertsConfig
from exchange.errors import Conflict, Forbidden, InputError, NotFound
from exchange.service.alerts.mail import check_address
from exchange.service.alerts.outbox import EVENTS
from exchange.service.alerts.ssrf import AddressPolicy, check_url
from exchange.service.caller import Caller
from exchange.service.clock import Clock, iso_ms
from exchange.store import alerts as astore
from exchange.store.db import Database
from exchange.vocab import PRIORITIES, TYPES

__all__ = ["KINDS", "MODES", "AlertEndpoints"]

KINDS = ("webhook", "mail")
MODES = ("envelope", "notification")
STATES = ("pending", "done", "dead", "cancelled")


def _may_manage(caller: Caller, party: str) -> None:
    if caller.is_admin:
        return
    if caller.party != party or "reader" not in caller.roles:
        raise Forbidden("only an admin, or a reader of the party itself, manages its alerts")


def _view(ep: astore.Endpoint) -> dict[str, Any]:
    out = ep.view()
    out["created_at"] = iso_ms(ep.created_at)
    return out


class AlertEndpoints:
    """A party's alert endpoints and their deliveries, within the node's alert policy
    (``config``: the SSRF allowance and the endpoint limit)."""

    def __init__(self, *, db: Database, clock: Clock, config: AlertsConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def add(
        self,
        caller: Caller,
        *,
        party: str,
        kind: str,
        target: str,
        mode: str | None,
        events: list[str] | None,
        types: list[str] | None,
        min_priority: str | None,
    ) -> dict[str, Any]:
        """Register an endpoint; a webhook's URL must pass the SSRF rules now (and again
        on every push)."""
        _may_manage(caller, party)
        if kind not in KINDS:
            raise InputError(f"kind: must be one of {', '.join(KINDS)}")
        if kind == "webhook":
            mode = mode or "notification"
            if mode not in MODES:
                raise InputError(f"mode: must be one of {', '.join(MODES)}")
            await check_url(target, AddressPolicy(self.config.allow_networks))
        else:
            if mode is not None:
                raise InputError("mode: only for webhooks")
            target = check_address(target)
        chosen = tuple(sorted(set(events or EVENTS)))
        if not chosen or any(e not in EVENTS for e in chosen):
            raise InputError(f"events: each one of {', '.join(EVENTS)}")
        if types is not None and (not types or any(t not in TYPES for t in types)):
            raise InputError(f"types: each one of {', '.join(TYPES)}")
        if min_priority is not None and min_priority not in PRIORITIES:
            raise InputError(f"min_priority: one of {', '.join(PRIORITIES)}")
        ep = astore.Endpoint(
            id=str(uuid.uuid4()),
            party=party,
            kind=kind,
            target=target,
            mode=mode,
            events=chosen,
            types=None if types is None else tuple(sorted(set(types))),
            min_priority=min_priority,
            status="active",
            created_by=caller.client_id,
            created_at=self.clock.ms(),
        )
        limit = self.config.max_endpoints

        def txn(conn: Any) -> None:
            if not astore.party_exists(conn, party):
                raise NotFound("no such party")
            if astore.count_endpoints(conn, party) >= limit:
                raise Conflict(f"a party has at most {limit} alert endpoints")
            astore.add_endpoint(conn, ep)

        await self.db.run_write(txn)
        return _view(ep)

    async def listing(self, caller: Caller, party: str | None) -> list[dict[str, Any]]:
        if party is None and not caller.is_admin:
            party = caller.party
        if party is not None:
            _may_manage(caller, party)
        eps = await self.db.run_read(partial(astore.endpoints, party=party))
        return [_view(e) for e in eps]

    async def _owned(self, caller: Caller, endpoint_id: str) -> astore.Endpoint:
        try:
            uuid.UUID(endpoint_id)
        except ValueError:
            raise NotFound("no such alert endpoint") from None
        ep = await self.db.run_read(partial(astore.endpoint, endpoint_id=endpoint_id))
        if ep is None or ep.status != "active":
            raise NotFound("no such alert endpoint")
        try:
            _may_manage(caller, ep.party)
        except Forbidden:
            raise NotFound("no such alert endpoint") from None
        return ep

    async def remove(self, caller: Caller, endpoint_id: str) -> int:
        """Remove the endpoint; what it still had queued is cancelled. Returns that count."""
        await self._owned(caller, endpoint_id)
        now = self.clock.ms()
        return await self.db.run_write(lambda conn: astore.remove_endpoint(conn, endpoint_id, now))

    async def deliveries(
        self, caller: Caller, endpoint_id: str, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        await self._owned(caller, endpoint_id)
        if state is not None and state not in STATES:
            raise InputError(f"state: one of {', '.join(STATES)}")
        return await self.db.run_read(
            lambda conn: astore.deliveries(conn, endpoint_id, state, limit)
        )

    async def redeliver(self, caller: Caller, endpoint_id: str, ids: list[int] | None) -> int:
        """Dead-lettered deliveries (all, or ``ids``) are queued again. Returns how many."""
        await self._owned(caller, endpoint_id)
        now = self.clock.ms()
        return await self.db.run_write(lambda conn: astore.redeliver(conn, endpoint_id, ids, now))
