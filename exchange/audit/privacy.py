"""Leaf privacy (PROTOCOL §8, version 1.1): entries that reveal routing enter the log
only as a salted commitment.

A private entry (a bulletin's admission, an ack) is logged as the public leaf
``{"commitment","kind","v":2}``; its *opening* is the full entry plus a 32-byte random
``salt``, served only to the parties entitled to it. ``commitment`` is base64url
SHA-256 over :data:`DOMAIN` followed by the opening's canonical JSON, so the leaf binds
every private field, the salt makes the commitment unguessable from a guessed entry (a
bid and a party list have little entropy), and the domain string keeps it from being
taken for any other hash this protocol makes. Leaves written before (no ``v``) are the
entries themselves and stay verifiable as they were.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from exchange.audit.canonical import canonical_json
from exchange.crypto import b64u_decode, b64u_encode
from exchange.errors import ExchangeError, LogInconsistent

__all__ = [
    "DOMAIN",
    "LEAF_VERSION",
    "PRIVATE_KINDS",
    "SALT_BYTES",
    "commit",
    "commitment_of",
    "is_committed",
    "open_leaf",
]

#: The leaf format version of a committed leaf.
LEAF_VERSION = 2
#: Entry kinds whose fields reveal who sent to whom or who acknowledged what. Directory
#: changes stay public: the signed directory every client reads already holds them.
PRIVATE_KINDS = frozenset({"bulletin", "ack"})
DOMAIN = b"avsec-audit-opening/v2\x00"
SALT_BYTES = 32


def commitment_of(opening: bytes) -> str:
    return b64u_encode(hashlib.sha256(DOMAIN + opening).digest())


def commit(entry: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """``(leaf, opening)`` for a private entry: a fresh random salt per entry, never
    derived from the entry, the index or the clock."""
    if "salt" in entry:
        raise ValueError("an entry has no 'salt' of its own")
    salt = secrets.token_bytes(SALT_BYTES)
    opening = canonical_json({**entry, "salt": b64u_encode(salt)})
    leaf = {"commitment": commitment_of(opening), "kind": entry["kind"], "v": LEAF_VERSION}
    return canonical_json(leaf), opening


def is_committed(entry: Mapping[str, Any]) -> bool:
    """Is this (public) leaf a commitment that needs an opening to be read?"""
    return entry.get("v") == LEAF_VERSION and "commitment" in entry


def _object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise LogInconsistent(f"the {what} is not JSON") from exc
    if not isinstance(obj, dict):
        raise LogInconsistent(f"the {what} is not an object")
    return obj


def open_leaf(leaf: bytes, opening: bytes) -> dict[str, Any]:
    """The full entry of a committed leaf, checked against it: the opening's hash is the
    leaf's commitment, it is canonical, of the leaf's kind, with a salt of 32 bytes.
    Raises :class:`LogInconsistent` otherwise (a tampered or swapped opening)."""
    public = _object(leaf, "leaf")
    if not is_committed(public):
        raise LogInconsistent("the leaf is not a commitment")
    given = commitment_of(opening)
    if not hmac.compare_digest(given, str(public["commitment"])):
        raise LogInconsistent("the opening does not match the leaf's commitment")
    entry = _object(opening, "opening")
    try:
        canonical = canonical_json(entry) == opening
        salt = b64u_decode(str(entry.get("salt", "")))
    except ExchangeError as exc:
        raise LogInconsistent("the opening is malformed") from exc
    if not canonical or len(salt) != SALT_BYTES or entry.get("kind") != public.get("kind"):
        raise LogInconsistent("the opening is malformed")
    return entry
