"""Prometheus metrics of one node (``GET /metrics``). One registry per Exchange, so that
several servers in one process (tests) do not collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "exchange_requests_total",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.accepted = Counter(
            "exchange_bulletins_accepted_total", "bulletins accepted", registry=r
        )
        self.acks = Counter("exchange_acks_total", "acks accepted", ["status"], registry=r)
        self.ack_latency = Histogram(
            "exchange_ack_latency_seconds",
            "time from acceptance to ack",
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400),
        )
        self.websockets = Gauge("exchange_websocket_connections", "open streams", registry=r)
        self.pending = Gauge(
            "exchange_deliveries_pending", "deliveries not yet pushed or fetched", registry=r
        )
        self.db_latency = Histogram(
            "exchange_db_seconds",
            "database transaction latency",
            ["kind"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
        )
