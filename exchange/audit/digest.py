"""The digest the log records for each directory version."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from exchange.audit.canonical import canonical_json
from exchange.crypto import b64u_encode

__all__ = ["directory_digest"]


def directory_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical directory document without its ``log_index`` (which
    names the entry holding this digest, so it cannot be part of it)."""
    body = {k: v for k, v in doc.items() if k != "log_index"}
    return b64u_encode(hashlib.sha256(canonical_json(body)).digest())
