"""Fixtures shared by the crypto tests: keys are generated once per session (hybrid key
generation is the slow part), helpers build and tamper with envelopes."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from exchange.crypto import (
    TYP_ENVELOPE,
    Ed25519Signer,
    EncryptionPrivateKey,
    SigningPublicKey,
    _json,
    b64u_decode,
    b64u_encode,
    sign_compact,
)

_COUNTER = itertools.count()


class Helpers:
    """Small functions the tests share (importable without a package, via a fixture)."""

    @staticmethod
    def bulletin(**overrides: Any) -> dict[str, Any]:
        b: dict[str, Any] = {
            "v": 1,
            "bid": str(uuid.UUID(int=next(_COUNTER))),
            "iss": "KZ",
            "groups": ["cac-avsec"],
            "to": [],
            "type": "threat-assessment",
            "priority": "immediate",
            "tlp": "amber",
            "iat": 1790000000,
            "exp": 1790604800,
            "supersedes": None,
            "title": "Threat assessment: UAAA",
            "lang": "en",
            "body": {"summary": "…", "threat_level": "substantial", "locations": ["UAAA"]},
        }
        b.update(overrides)
        return b

    @staticmethod
    def resolver(*signers: Ed25519Signer) -> Callable[[str], SigningPublicKey | None]:
        return {s.kid: s.public for s in signers}.get

    @staticmethod
    def flip(value: str, index: int = 0, bit: int = 0) -> str:
        """Flip one bit of the bytes a base64url value encodes."""
        raw = bytearray(b64u_decode(value))
        raw[index % len(raw)] ^= 1 << bit
        return b64u_encode(bytes(raw))

    @staticmethod
    def jwe_of(envelope: str) -> dict[str, Any]:
        return _json.loads_object(b64u_decode(envelope.split(".")[1]))

    @staticmethod
    def replace_jwe(envelope: str, jwe: dict[str, Any]) -> str:
        """Swap the JWE but keep the original outer header and signature."""
        h, _, s = envelope.split(".")
        return f"{h}.{b64u_encode(_json.dumps(jwe))}.{s}"

    @staticmethod
    def resign(envelope: str, jwe: dict[str, Any], signer: Ed25519Signer) -> str:
        return sign_compact(_json.dumps(jwe), signer, TYP_ENVELOPE)

    @staticmethod
    def protected_of(jwe: dict[str, Any]) -> dict[str, Any]:
        return _json.loads_object(b64u_decode(jwe["protected"]))

    @staticmethod
    def with_protected(jwe: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
        return {**jwe, "protected": b64u_encode(_json.dumps(header))}


@pytest.fixture(scope="session")
def helpers() -> type[Helpers]:
    return Helpers


@pytest.fixture(scope="session")
def sender() -> Ed25519Signer:
    return Ed25519Signer.generate()


@pytest.fixture(scope="session")
def other_sender() -> Ed25519Signer:
    return Ed25519Signer.generate()


@pytest.fixture(scope="session")
def party_keys() -> dict[str, EncryptionPrivateKey]:
    """Three recipient parties of both kinds and one outsider (``TJ``)."""
    return {
        "UZ": EncryptionPrivateKey.generate("x25519"),
        "GE": EncryptionPrivateKey.generate("hybrid"),
        "KG": EncryptionPrivateKey.generate("hybrid"),
        "AM": EncryptionPrivateKey.generate("x25519"),
        "TJ": EncryptionPrivateKey.generate("hybrid"),
    }
