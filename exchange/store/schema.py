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
)

__all__ = [
    "acks",
    "audit_leaves",
    "audit_state",
    "bulletins",
    "clients",
    "deliveries",
    "directory_meta",
    "enc_keys",
    "groups",
    "jtis",
    "memberships",
    "metadata",
    "parties",
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
