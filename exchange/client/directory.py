"""The directory as a client sees it: verified against the pinned server key, then
turned into keys to seal to and the routing view to compute recipients with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exchange.crypto import jws, loads_object
from exchange.crypto.keys import (
    EncryptionPublicKey,
    SigningPublicKey,
    parse_encryption_jwk,
    parse_signing_jwk,
)
from exchange.errors import InputError, MalformedEnvelope, RecipientMismatch
from exchange.routing import DirectoryView, view_of
from exchange.vocab import MAX_HEADER

__all__ = ["Directory", "parse_directory"]


@dataclass
class Directory:
    doc: dict[str, Any]
    token: str
    view: DirectoryView
    active_kid: dict[str, str]
    signing: dict[str, SigningPublicKey] = field(default_factory=dict)
    client_of: dict[str, dict[str, Any]] = field(default_factory=dict)
    encryption: dict[str, EncryptionPublicKey] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return int(self.doc["version"])

    def signing_key(self, kid: str) -> SigningPublicKey | None:
        """An active (or suspended) client's signing key (None for unknown or revoked
        keys, and for an Ed25519-only key of a party that must sign hybrid: issue 20). A
        suspended client cannot post, so what it signed was signed before."""
        c = self.client_of.get(kid)
        if c is None or c["status"] not in ("active", "suspended"):
            return None
        key = self.signing.get(kid)
        if key is not None and not key.is_hybrid and self.hybrid_required(c["party"]):
            return None
        return key

    def hybrid_required(self, party: str) -> bool:
        """The directory's signing policy (issue 20): for the exchange, or for ``party``."""
        if self.doc.get("require_hybrid") is True:
            return True
        return any(
            p["id"] == party and p.get("require_hybrid") is True for p in self.doc["parties"]
        )

    def keys_for(self, parties: list[str] | frozenset[str]) -> list[EncryptionPublicKey]:
        missing = sorted(p for p in parties if p not in self.active_kid)
        if missing:
            raise RecipientMismatch(f"no active encryption key for {', '.join(missing)}")
        return [self.encryption[self.active_kid[p]] for p in sorted(parties)]


def parse_directory(token: str, server_key: SigningPublicKey) -> Directory:
    verified = jws.verify_compact(
        token,
        lambda k: server_key if k == server_key.kid else None,
        jws.TYP_DIRECTORY,
        max_header=MAX_HEADER,
    )
    try:
        doc = loads_object(verified.payload, MalformedEnvelope, "directory document")
        view, active = view_of(doc)
        d = Directory(doc, token, view, active)
        for c in doc["clients"]:
            d.client_of[c["kid"]] = c
            d.signing[c["kid"]] = parse_signing_jwk(c["jwk"])
            # issue 18: keys the client rotated away from still verify what they signed
            # (the server refused them from retire_at on, so nothing newer is theirs)
            for prev in c.get("previous_keys", ()):
                d.client_of[prev["kid"]] = c | {"kid": prev["kid"], "jwk": prev["jwk"]}
                d.signing[prev["kid"]] = parse_signing_jwk(prev["jwk"])
        for k in doc["encryption_keys"]:
            if k["status"] == "active":
                d.encryption[k["kid"]] = parse_encryption_jwk(k["jwk"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedEnvelope("directory document is malformed") from exc
    except InputError:
        raise
    return d
