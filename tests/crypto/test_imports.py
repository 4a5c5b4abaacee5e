"""Each crypto module imports on its own, declares ``__all__``, and imports nothing that
does I/O (STYLE §1, §11)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import exchange.crypto

SUBMODULES = (f"exchange.crypto.{m.name}" for m in pkgutil.iter_modules(exchange.crypto.__path__))
MODULES = [*sorted(SUBMODULES), "exchange.crypto"]
FORBIDDEN = ("aiohttp", "sqlalchemy", "aiosqlite", "asyncpg", "logging", "jwt", "jwcrypto")


@pytest.mark.parametrize("module", MODULES)
def test_imports_alone(module: str) -> None:
    code = (
        f"import sys; import {module}; "
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", MODULES)
def test_declares_all(module: str) -> None:
    mod = importlib.import_module(module)
    assert isinstance(mod.__all__, list)
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_package_reexports_public_api() -> None:
    expected = {
        "seal",
        "open_envelope",
        "verify_envelope",
        "EnvelopeInfo",
        "OpenedBulletin",
        "ROUTING_FIELDS",
        "sign_compact",
        "verify_compact",
        "peek_header",
        "VerifiedJWS",
        "make_request_token",
        "verify_request_token",
        "RequestClaims",
        "body_hash",
        "Signer",
        "Ed25519Signer",
        "SigningPublicKey",
        "EncryptionPublicKey",
        "EncryptionPrivateKey",
        "parse_signing_jwk",
        "parse_encryption_jwk",
        "b64u_encode",
        "b64u_decode",
    }
    assert expected <= set(exchange.crypto.__all__)
