"""The services of one node, built once from its configuration (the composition root).

Each service is given the collaborators it uses as named constructor arguments and
never the node itself: no other module of ``exchange.service`` imports ``Exchange``
(ADR 0015). Request handlers take the services from the application
(``api/app_keys.py``); the node start-up (``exchange/node``), the CLI's node commands
and the tests read them as attributes here."""

from __future__ import annotations

from exchange.config import ServerConfig
from exchange.crypto.keys import SigningKey
from exchange.service.admission import Admissions
from exchange.service.alerts.endpoints import AlertEndpoints
from exchange.service.alerts.worker import AlertWorker
from exchange.service.audit_log import AuditLog
from exchange.service.auth import Authenticator, KeyCache
from exchange.service.caller import Caller
from exchange.service.clients import ClientCache
from exchange.service.clock import Clock
from exchange.service.delivery import Delivery
from exchange.service.directory import Directory
from exchange.service.hub import Hub
from exchange.service.key_lifecycle import KeyLifecycle
from exchange.service.marker import DeliveryMarker
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import RateLimiter
from exchange.service.reports import Reports
from exchange.service.seen import SeenMarks
from exchange.service.sent import Sent
from exchange.service.server_key import ServerKeys
from exchange.service.spend import JtiSpender
from exchange.service.status import NodeStatus
from exchange.service.stream import Streams
from exchange.service.view import ViewCache
from exchange.store.db import Database

__all__ = ["Caller", "Exchange"]


class Exchange:
    """One node: its database handle, signing key, clock, local hub, and the services
    built on them (``auth``, ``directory``, ``admissions``, ``audit_log``,
    ``seen``, ``reports``, ``sent``, ``delivery``, ``streams``, ``key_lifecycle``,
    ``server_keys``, ``alert_endpoints``, ``status``; ``alert_worker()`` per app)."""

    def __init__(
        self,
        config: ServerConfig,
        db: Database,
        signer: SigningKey,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.limits = limits = config.limits
        self.db = db
        self.signer = signer
        self.clock = clock = clock or Clock()
        # The only writer (SQLite, no poll for other processes) sees every commit, in
        # order: its streams can take new bulletins from memory (service/hub.py).
        sole_writer = db.is_sqlite and not config.poll_interval
        self.hub = hub = Hub(queue_size=limits.ws_send_queue, carry=sole_writer)
        self.metrics = metrics = Metrics()
        self.status = NodeStatus(
            db=db, hub=hub, metrics=metrics, metrics_token=config.metrics_token
        )
        self.marker = marker = DeliveryMarker(db, clock)
        self.clients = clients = ClientCache(db, enabled=sole_writer)
        keys = KeyCache()
        jtis = JtiSpender(db)  # posts spend theirs in their admission (ADR 0020)
        self.auth = Authenticator(
            exchange_id=config.exchange_id,
            limits=limits,
            clock=clock,
            db=db,
            clients=clients,
            keys=keys,
            jtis=jtis,
            rate=RateLimiter(limits.rate_per_second, limits.rate_burst),
        )
        self.directory = directory = Directory(
            exchange_id=config.exchange_id,
            db=db,
            signer=signer,
            clock=clock,
            clients=clients,
            hub=hub,
        )
        self.audit_log = AuditLog(db=db, signer=signer, clock=clock, limits=limits)
        self.seen = seen = SeenMarks(db=db, clock=clock, hub=hub)
        self.reports = Reports(
            db=db, clock=clock, limits=limits, ack_deadlines=config.ack_deadlines, seen=seen
        )
        self.sent = Sent(db=db, clock=clock)
        self.admissions = Admissions(
            db=db,
            signer=signer,
            clock=clock,
            limits=limits,
            ack_deadlines=config.ack_deadlines,
            hub=hub,
            metrics=metrics,
            views=ViewCache(),
            clients=clients,
            keys=keys,
            jtis=jtis,
        )
        self.delivery = delivery = Delivery(
            db=db,
            clock=clock,
            limits=limits,
            keys=keys,
            clients=clients,
            hub=hub,
            marker=marker,
            metrics=metrics,
            alerts_queue_max=config.alerts.queue_max,
        )
        self.streams = Streams(
            db=db, clock=clock, limits=limits, hub=hub, marker=marker, delivery=delivery
        )
        self.key_lifecycle = KeyLifecycle(
            directory=directory, clock=clock, limits=limits, key_grace=config.key_grace
        )
        self.server_keys = ServerKeys(db=db, directory=directory, clock=clock, signer=signer)
        self.alert_endpoints = AlertEndpoints(db=db, clock=clock, config=config.alerts)

    def alert_worker(self) -> AlertWorker:
        """A new alert worker (one per running application: it owns tasks and an HTTP
        session)."""
        return AlertWorker(
            db=self.db,
            clock=self.clock,
            signer=self.signer,
            marker=self.marker,
            config=self.config.alerts,
        )
