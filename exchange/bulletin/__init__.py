"""Bulletins (PROTOCOL §4): their vocabulary, JSON Schema files and validation.

The server cannot read a bulletin, so this is mostly the client's side of the contract;
the server uses :func:`validate_metadata` on the routing fields it can see.
"""

from __future__ import annotations

from exchange.bulletin.validate import (
    BULLETIN_FIELDS,
    METADATA_FIELDS,
    OPTIONAL_FIELDS,
    metadata_of,
    new_bulletin,
    validate_body,
    validate_bulletin,
    validate_metadata,
)

__all__ = [
    "BULLETIN_FIELDS",
    "METADATA_FIELDS",
    "OPTIONAL_FIELDS",
    "metadata_of",
    "new_bulletin",
    "validate_body",
    "validate_bulletin",
    "validate_metadata",
]
