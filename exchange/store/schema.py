"""The database schema: one SQLAlchemy ``MetaData`` shared by queries and migrations.

Times are integer milliseconds since the epoch (``*_at``); bulletin ``iat``/``exp`` are
the bulletin's own seconds. JSON-valued columns hold canonical JSON text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "acks",
    "alert_endpoints",
    "alert_outbox",
    "alert_state",
    "audit_leaves",
    "audit_openings",
    "audit_state",
    "bulletins",
    "clients",
    "deliveries",
    "directory_meta",
    "enc_keys",
    "exchange_meta",
    "groups",
    "jtis",
    "last_seen",
    "memberships",
    "metadata",
    "parties",
    "previous_signing_keys",
    "report_days",
    "report_dirty",
    "report_state",
    "server_key_rotations",
    "signing_policy",
    "subscriptions",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere use 64 bits.
_SEQ = BigInteger().with_variant(Integer, "sqlite")

parties = Table(
    "parties",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # active | suspended (its clients refused, deliveries kept) | removed (final)
    Column("status", String(16), nullable=False, server_default="active"),
)

clients = Table(
    "clients",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("party", String(32), ForeignKey("parties.id"), nullable=False, index=True),
    Column("kid", String(64), nullable=False, unique=True),
    Column("jwk", Text, nullable=False),
    Column("roles", String(64), nullable=False),  # comma-separated, sorted
    Column("status", String(16), nullable=False),  # active | revoked
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),  # issue 18: refused from then on
)

enc_keys = Table(
    "enc_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("party", String(32), ForeignKey("parties.id"), nullable=False, index=True),
    Column("alg", String(32), nullable=False),
    Column("jwk", Text, nullable=False),
    Column("status", String(16), nullable=False),  # active | retired | revoked
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),  # issue 18: senders stop sealing to it
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("group_id", String(64), ForeignKey("groups.id"), primary_key=True),
    Column("party", String(32), ForeignKey("parties.id"), primary_key=True),
    Column("role", String(16), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("group_id", String(64), ForeignKey("groups.id"), primary_key=True),
    Column("source", String(32), ForeignKey("parties.id"), primary_key=True),
    Column("types", Text, nullable=True),  # JSON list, or NULL for every type
    Column("min_priority", String(16), nullable=True),
)

# A single row: the directory version only grows (PROTOCOL §7).
directory_meta = Table(
    "directory_meta",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of the directory document
    Column("log_index", BigInteger, nullable=False),  # the audit leaf recording it
)

# Issue 20: who must sign with a hybrid (ML-DSA-65 + Ed25519) key. One row per scope: a
# party id, or "*" for the whole exchange; a row present means hybrid is required.
signing_policy = Table(
    "signing_policy",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("set_at", BigInteger, nullable=False),
)

# PROTOCOL §6: a jti is single use; the primary key makes two concurrent uses collide.
jtis = Table(
    "jtis",
    metadata,
    Column("jti", String(128), primary_key=True),
    Column("exp", BigInteger, nullable=False, index=True),
)

bulletins = Table(
    "bulletins",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("bid", String(64), nullable=False, unique=True),
    Column("iss", String(32), nullable=False, index=True),
    Column("client_id", String(96), nullable=False),
    Column("kid", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("iat", BigInteger, nullable=False),
    Column("exp", BigInteger, nullable=True),
    Column("supersedes", String(64), nullable=True),
    Column("groups", Text, nullable=False),
    Column("to", Text, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("envelope", Text, nullable=False),
    Column("envelope_sha256", String(64), nullable=False),
    Column("accepted_at", BigInteger, nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("receipt", Text, nullable=False),
)

# One row per recipient party of a bulletin; ``seq`` is the bulletin's, so a party's
# inbox is an index range scan in cursor order.
deliveries = Table(
    "deliveries",
    metadata,
    Column("party", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("bid", String(64), nullable=False, index=True),
    Column("priority", String(16), nullable=False),
    Column("deadline", BigInteger, nullable=True),  # ack due by (ms)
    Column("delivered_at", BigInteger, nullable=True),
    Column("escalated_at", BigInteger, nullable=True),
    # First ack of any status, of read or actioned, and of actioned (ms): kept by a
    # trigger on ``acks`` (migration 0006_reports), so that reports need no join to acks.
    Column("acked_at", BigInteger, nullable=True),
    Column("read_at", BigInteger, nullable=True),
    Column("actioned_at", BigInteger, nullable=True),
)
Index("ix_deliveries_overdue", deliveries.c.deadline, deliveries.c.escalated_at)

acks = Table(
    "acks",
    metadata,
    Column("bid", String(64), primary_key=True),
    Column("party", String(32), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("client_id", String(96), nullable=False),
    Column("iat", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("jws", Text, nullable=False),
    Column("log_index", BigInteger, nullable=False),
)

# PROTOCOL §8: append-only; rows are never updated or deleted.
audit_leaves = Table(
    "audit_leaves",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Issue 17 (leaf privacy): the opening of a committed leaf (the full entry and its salt)
# and the parties entitled to read it (JSON list); the operator may read every one.
audit_openings = Table(
    "audit_openings",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("opening", LargeBinary, nullable=False),
    Column("readers", Text, nullable=False),
)

# A single row: the tree size and its compact range (frontier), updated in the same
# transaction as each append, so a tree head costs O(1) to read.
audit_state = Table(
    "audit_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("frontier", Text, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Reachability (issue 14): when each client last made an authenticated request, pulled
# its inbox, or held a live stream. Written at most once a minute per client
# (service/seen.py), so it costs nothing on the request path.
last_seen = Table(
    "last_seen",
    metadata,
    Column("client_id", String(96), primary_key=True),
    Column("party", String(32), nullable=False, index=True),
    Column("request_at", BigInteger, nullable=False),
    Column("inbox_at", BigInteger, nullable=True),
    Column("stream_at", BigInteger, nullable=True),
)
# Reports select bulletins by acceptance time.
Index("ix_bulletins_accepted_at", bulletins.c.accepted_at)
# Alerts (docs/alerts.md): a party's webhook endpoints and e-mail addresses.
alert_endpoints = Table(
    "alert_endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("party", String(32), ForeignKey("parties.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # webhook | mail
    Column("target", String(2048), nullable=False),  # URL or e-mail address
    Column("mode", String(16), nullable=True),  # webhook: envelope | notification
    Column("events", String(64), nullable=False),  # comma-separated: bulletin,escalation
    Column("types", Text, nullable=True),  # JSON list, or NULL for every type
    Column("min_priority", String(16), nullable=True),
    Column("status", String(16), nullable=False),  # active | removed
    Column("created_by", String(96), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The durable queue of pushes and mails, one row per (endpoint, event, bulletin, subject).
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(36), ForeignKey("alert_endpoints.id"), nullable=False),
    Column("event", String(16), nullable=False),  # bulletin | escalation
    Column("seq", BigInteger, nullable=False),
    Column("subject", String(32), nullable=False),  # the overdue party, or ""
    Column("nonce", String(36), nullable=False, unique=True),  # the delivery's id
    Column("info", Text, nullable=False),  # JSON: the bulletin's routing metadata
    Column("state", String(16), nullable=False),  # pending | done | dead | cancelled
    Column("attempts", Integer, nullable=False),
    Column("next_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("lease_owner", String(36), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("done_at", BigInteger, nullable=True),
    UniqueConstraint("endpoint_id", "event", "seq", "subject"),
)
Index("ix_alert_outbox_state_endpoint", alert_outbox.c.state, alert_outbox.c.endpoint_id)

# A single row: the last bulletin seq whose alerts were queued.
alert_state = Table(
    "alert_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# Facts about the exchange itself, one row each (``exchange_id``): ``serve`` refuses a
# configuration naming another exchange than the one this database belongs to.
exchange_meta = Table(
    "exchange_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Report summaries (issue 14, ADR 0018; migration 0010_report_summaries): per day of
# acceptance, sender, recipient, priority and groups, the counts a report adds up and
# each step's time histogram (store/report_days.py); days to rebuild; the first day
# not summarized yet.
report_days = Table(
    "report_days",
    metadata,
    Column("day", BigInteger, primary_key=True),
    Column("iss", String(32), primary_key=True),
    Column("party", String(32), primary_key=True),
    Column("priority", String(16), primary_key=True),
    Column("groups", Text, primary_key=True),
    *(
        Column(c, BigInteger, nullable=False)
        for c in (
            "deliveries",
            "delivered",
            "acked",
            "n_read",
            "n_act",
            "within",
            "acked_dl",
            "open_dl",
        )
    ),
    Column("open_max", BigInteger, nullable=True),
    Column("hist", LargeBinary, nullable=False),
)
Index("ix_report_days_open_max", report_days.c.open_max)
report_dirty = Table(
    "report_dirty",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("day", BigInteger, nullable=False),
)
report_state = Table(
    "report_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("built_until", BigInteger, nullable=False),
)

# Issue 18: a client's signing keys before its current one (``clients.kid``). Each still
# verifies until ``retire_at`` (the grace period), then is refused; kept for the record
# and so that recipients verify what it signed before.
previous_signing_keys = Table(
    "previous_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("client_id", String(96), ForeignKey("clients.id"), nullable=False, index=True),
    Column("jwk", Text, nullable=False),
    Column("rotated_at", BigInteger, nullable=False),
    Column("retire_at", BigInteger, nullable=False),
)

# Issue 18: each rotation of the server's signing key, with the statement the old key
# signed over the new one (GET /v1/server-key/rotation), oldest first.
server_key_rotations = Table(
    "server_key_rotations",
    metadata,
    Column("old_kid", String(64), primary_key=True),
    Column("new_kid", String(64), nullable=False, unique=True),
    Column("statement", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)
