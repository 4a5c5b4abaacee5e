"""Every named limit and setting of a server, in one typed object (STYLE §9).

The dataclass tree is the configuration file's schema (``exchange/configfile.py``): a
field of ``ServerConfig`` is a top-level key of ``exchange.toml`` and ``EXCHANGE_<NAME>``;
a nested dataclass or dict (``limits``, ``ack_deadlines``) is a ``[section]`` and
``EXCHANGE_<SECTION>_<NAME>``. A new setting is one new field here, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from exchange import vocab

__all__ = ["ACK_DEADLINES", "LOG_LEVELS", "AlertsConfig", "Limits", "ServerConfig"]

#: Default ack deadline per priority, in seconds (flash 15 min, immediate 1 h, ...).
ACK_DEADLINES: dict[str, int] = {
    "flash": 15 * 60,
    "immediate": 60 * 60,
    "priority": 6 * 60 * 60,
    "routine": 24 * 60 * 60,
}


#: The levels ``log_level`` accepts.
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Limits:
    """Limits on every untrusted input. Each one is named so it can be tuned and cited."""

    max_body: int = vocab.MAX_BODY  # PROTOCOL §7: default 2 MiB, 413 beyond
    max_recipients: int = vocab.MAX_RECIPIENTS
    max_groups: int = 64
    max_header: int = vocab.MAX_HEADER  # a JOSE protected header, a token
    max_json_depth: int = 32
    clock_skew: int = vocab.CLOCK_SKEW  # PROTOCOL §6
    token_lifetime: int = vocab.TOKEN_LIFETIME  # PROTOCOL §6: exp - iat
    future_iat: int = vocab.FUTURE_IAT  # PROTOCOL §5: a bulletin's iat in the future
    past_iat: int = vocab.PAST_IAT  # issue 17: a new bulletin dated further back is refused
    page_size: int = 100
    max_page_size: int = 1000
    audit_max_page: int = 1000
    ws_max_frame: int = 64 * 1024
    ws_send_queue: int = 1024  # items queued per connection before it is dropped
    ws_heartbeat: float = 20.0
    ws_send_timeout: float = 10.0  # a stream reader that does not read is cut off
    ws_recheck: float = 2.0  # an open stream re-checks its client's key and roles (issue 17)
    page_bytes: int = 8 * 1024 * 1024  # envelopes held by one inbox or stream page
    rate_per_second: float = 50.0  # per client, token bucket refill
    rate_burst: int = 200
    max_concurrency: int = 512  # requests in flight per node before 503
    # Slow clients (slowloris): a connection must deliver a request's headers within
    # ``header_timeout`` (also the idle keep-alive limit), and its body within
    # ``body_timeout`` plus one second per ``body_min_rate`` bytes it declares.
    header_timeout: float = 30.0
    body_timeout: float = 10.0
    body_min_rate: int = 64 * 1024
    report_max_days: int = 1100  # the longest period one report covers (about 3 years)
    report_overdue_items: int = 500  # overdue deliveries listed in a report (all counted)


@dataclass(frozen=True)
class AlertsConfig:
    """Webhooks and e-mail (docs/alerts.md): delivery policy, SSRF allowance, SMTP."""

    poll_interval: float = 1.0  # how often new bulletins and due deliveries are looked for
    concurrency: int = 16  # pushes and mails in flight per node
    webhook_timeout: float = 10.0  # one push, connect to last byte
    max_attempts: int = 10  # then the delivery is dead-lettered
    backoff_base: float = 5.0  # seconds; doubled per failed try, with jitter
    backoff_max: float = 3600.0
    lease: float = 60.0  # a claimed delivery is another node's again after this long
    queue_max: int = 10000  # pending deliveries per endpoint; beyond, dead-lettered at once
    max_endpoints: int = 20  # per party
    # CIDRs webhooks may reach although not global (loopback, private...): refused else.
    allow_networks: tuple[str, ...] = ()
    smtp_host: str | None = None  # no e-mail without it
    smtp_port: int = 587
    smtp_starttls: bool = True  # required, not opportunistic
    smtp_tls: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # EXCHANGE_SMTP_PASSWORD
    smtp_ca_file: Path | None = None  # a private CA for the relay's certificate
    smtp_timeout: float = 30.0
    mail_from: str = "avsec-exchange@localhost"
    console_url: str | None = None  # link in mails: may hold {party} and {bid}


@dataclass(frozen=True)
class ServerConfig:
    db_url: str = "sqlite+aiosqlite:///exchange.db"
    keys_dir: Path = Path("keys")
    exchange_id: str = "avsec-exchange"
    host: str = "127.0.0.1"
    port: int = 8080
    limits: Limits = field(default_factory=Limits)
    ack_deadlines: dict[str, int] = field(default_factory=lambda: dict(ACK_DEADLINES))
    escalation_interval: float = 5.0  # how often overdue acks are looked for
    # Fallback wake-up for streams when a cross-node notification is lost. None: off on
    # SQLite (one writer process sees every commit), 2 s on PostgreSQL.
    poll_interval: float | None = None
    # Server processes sharing the port (exchange/node/workers.py); each is one event loop.
    workers: int = 1
    # Bind with SO_REUSEPORT (set for each worker of several).
    reuse_port: bool = False
    # On SIGTERM: stop accepting, then let requests already received finish for up to
    # this long before streams are closed (1001) and the database is released.
    drain_timeout: float = 10.0
    # PostgreSQL: a connection (pool wait, connect, pre-ping) within this long, or 503.
    # A cancelled one may take 2 s more to be closed, so an outage answers within ~5 s.
    db_connect_timeout: float = 3.0
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # GET /metrics: with a token, only ``Authorization: Bearer <token>``; without one, only
    # peers on the loopback interface (issue 17, docs/deploy.md).
    metrics_token: str | None = None
    # The server's JSON log: its level, and a file instead of stderr (the terminal then
    # shows only the one-line start banner).
    log_level: str = "info"
    log_file: Path | None = None
    # Issue 18: after a client rotates its signing key, the old one still verifies for
    # this long (seconds), then is refused.
    key_grace: int = 7 * 24 * 60 * 60

    @property
    def server_key_path(self) -> Path:
        return self.keys_dir / "server" / "signing.jwk"

    def with_(self, **changes: object) -> ServerConfig:
        return replace(self, **changes)  # type: ignore[arg-type]
