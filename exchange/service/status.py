"""The node's own state for operators: ``GET /v1/health`` and the Prometheus scrape
(``GET /metrics``), which sets its gauges when read rather than on every change."""

from __future__ import annotations

from prometheus_client import generate_latest

from exchange.service.hub import Hub
from exchange.service.metrics import Metrics
from exchange.store import bulletins as bstore
from exchange.store.db import Database

__all__ = ["NodeStatus"]


class NodeStatus:
    """Health and metrics of one node; ``metrics_token``, when set, is the bearer
    credential a scrape must present (issue 17)."""

    def __init__(
        self, *, db: Database, hub: Hub, metrics: Metrics, metrics_token: str | None
    ) -> None:
        self.db = db
        self.hub = hub
        self.metrics = metrics
        self.metrics_token = metrics_token

    async def database_ok(self) -> bool:
        return await self.db.ping()

    async def scrape(self) -> bytes:
        """The registry in Prometheus text format, with the gauges read now."""
        self.metrics.websockets.set(self.hub.connections)
        self.metrics.pending.set(await self.db.run_read(bstore.pending_count, single=True))
        return generate_latest(self.metrics.registry)
