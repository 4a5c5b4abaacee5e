"""Alerts: signed webhook pushes and e-mail notifications from a durable outbox
(docs/alerts.md, ADR 0012)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from exchange.service.alerts.outbox import enqueue_escalations_txn

__all__ = ["escalated"]


def escalated(conn: Connection, overdue: Sequence[Any], now: int, queue_max: int) -> None:
    """Queue the sender's webhooks and mails for newly escalated deliveries, in the
    escalation's own transaction: once per deadline, also across nodes and restarts."""
    enqueue_escalations_txn(conn, overdue, now, queue_max)
