"""Application keys: the services a route takes from its application, and state shared
by several route modules. Each route names the service it uses; the node itself
(``Exchange``, the composition root) is under no key (ADR 0015)."""

from __future__ import annotations

from aiohttp import web

from exchange.config import Limits
from exchange.service.admission import Admissions
from exchange.service.alerts.endpoints import AlertEndpoints
from exchange.service.audit_log import AuditLog
from exchange.service.auth import Authenticator
from exchange.service.core import Exchange
from exchange.service.delivery import Delivery
from exchange.service.directory import Directory
from exchange.service.key_lifecycle import KeyLifecycle
from exchange.service.metrics import Metrics
from exchange.service.reports import Reports
from exchange.service.seen import SeenMarks
from exchange.service.sent import Sent
from exchange.service.server_key import ServerKeys
from exchange.service.status import NodeStatus
from exchange.service.stream import Streams

__all__ = [
    "ADMISSIONS",
    "ALERT_ENDPOINTS",
    "AUDIT_LOG",
    "AUTH",
    "DELIVERY",
    "DIRECTORY",
    "KEY_LIFECYCLE",
    "LIMITS",
    "METRICS",
    "REPORTS",
    "SEEN",
    "SENT",
    "SERVER_KEYS",
    "SOCKETS",
    "STATUS",
    "STREAMS",
    "install",
]

AUTH = web.AppKey("auth", Authenticator)
DIRECTORY = web.AppKey("directory", Directory)
ADMISSIONS = web.AppKey("admissions", Admissions)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
SEEN = web.AppKey("seen", SeenMarks)
DELIVERY = web.AppKey("delivery", Delivery)
STREAMS = web.AppKey("streams", Streams)
REPORTS = web.AppKey("reports", Reports)
SENT = web.AppKey("sent", Sent)
KEY_LIFECYCLE = web.AppKey("key_lifecycle", KeyLifecycle)
SERVER_KEYS = web.AppKey("server_keys", ServerKeys)
ALERT_ENDPOINTS = web.AppKey("alert_endpoints", AlertEndpoints)
STATUS = web.AppKey("status", NodeStatus)
METRICS = web.AppKey("metrics", Metrics)
#: the node's limits, for the routes' paging bounds
LIMITS = web.AppKey("limits", Limits)

#: open stream connections, closed with 1001 (going away) on shutdown
SOCKETS: web.AppKey[set[web.WebSocketResponse[bool]]] = web.AppKey("sockets")


def install(app: web.Application, ex: Exchange) -> None:
    """Put the node's services under their keys."""
    app[AUTH] = ex.auth
    app[DIRECTORY] = ex.directory
    app[ADMISSIONS] = ex.admissions
    app[AUDIT_LOG] = ex.audit_log
    app[SEEN] = ex.seen
    app[DELIVERY] = ex.delivery
    app[STREAMS] = ex.streams
    app[REPORTS] = ex.reports
    app[SENT] = ex.sent
    app[KEY_LIFECYCLE] = ex.key_lifecycle
    app[SERVER_KEYS] = ex.server_keys
    app[ALERT_ENDPOINTS] = ex.alert_endpoints
    app[STATUS] = ex.status
    app[METRICS] = ex.metrics
    app[LIMITS] = ex.limits
