"""The tamper-evident audit log (PROTOCOL §8): canonical leaves in an RFC 9162 Merkle tree."""

from exchange.audit.canonical import canonical_json
from exchange.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "canonical_json",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]
