"""A State's encryption keys on its desks: the active key (``encryption.jwk``) and the
retired ones kept so that old bulletins stay readable (``retired/KID.jwk``), copied to a
new desk or sealed under a passphrase to travel to another machine.

The party key belongs to the party (PROTOCOL §1): every desk of a State must hold the
same one, or a desk cannot read what was sealed to the party. The transfer file is
AES-256-GCM under a key derived from the passphrase with scrypt (both from
``cryptography``); the passphrase travels another way (told by phone)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from exchange.crypto.keys import EncryptionPrivateKey
from exchange.errors import InputError
from exchange.keyfiles import read_json, write_secret_json

__all__ = [
    "MIN_PASSPHRASE",
    "TRANSFER_FORMAT",
    "install_keys",
    "local_keys",
    "open_transfer",
    "rotate",
    "seal_transfer",
]

TRANSFER_FORMAT = "avsec-party-keys/1"
MIN_PASSPHRASE = 12
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}  # ~32 MiB, well under a second


def local_keys(folder: Path) -> list[dict[str, Any]]:
    """The party's private encryption JWKs in a profile: the active one first."""
    keys = []
    if (folder / "encryption.jwk").is_file():
        keys.append(read_json(folder / "encryption.jwk"))
    retired = folder / "retired"
    if retired.is_dir():
        keys += [read_json(p) for p in sorted(retired.glob("*.jwk"))]
    return keys


def install_keys(folder: Path, keys: list[dict[str, Any]]) -> list[str]:
    """Give a profile the party keys ``keys`` (active first): the first becomes its
    active key, every other key it did not hold is kept as retired (a key it held as
    active before is retired too, so nothing it could read becomes unreadable). Returns
    the kids now held, active first."""
    if not keys:
        raise InputError("no encryption key to install")
    parsed = [EncryptionPrivateKey.from_jwk(k) for k in keys]  # each must be a valid key
    held = {EncryptionPrivateKey.from_jwk(k).kid: k for k in local_keys(folder)}
    active = parsed[0].kid
    everything = {**held, **{k.kid: j for k, j in zip(parsed, keys, strict=True)}}
    for kid, jwk in everything.items():
        if kid != active:
            write_secret_json(folder / "retired" / f"{kid}.jwk", jwk, overwrite=True)
    write_secret_json(folder / "encryption.jwk", keys[0], overwrite=True)
    retired_file = folder / "retired" / f"{active}.jwk"
    if retired_file.exists():
        retired_file.unlink()
    return [active, *sorted(k for k in everything if k != active)]


def rotate(folder: Path) -> tuple[EncryptionPrivateKey, str]:
    """A new active party key of the same kind; the old one is kept as retired so that
    bulletins sealed to it stay readable. Returns (the new key, the retired kid)."""
    keys = local_keys(folder)
    if not keys:
        raise InputError(f"{folder} holds no party encryption key to rotate")
    old = EncryptionPrivateKey.from_jwk(keys[0])
    new = EncryptionPrivateKey.generate("hybrid" if old.public.is_hybrid else "x25519")
    install_keys(folder, [new.to_private_jwk(), *keys])
    return new, old.kid


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kdf(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode())


def seal_transfer(party: str, keys: list[dict[str, Any]], passphrase: str) -> dict[str, Any]:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    aad = f"{TRANSFER_FORMAT}:{party}".encode()
    plain = json.dumps({"party": party, "keys": keys}, sort_keys=True).encode()
    sealed = AESGCM(_kdf(passphrase, salt)).encrypt(nonce, plain, aad)
    return {
        "format": TRANSFER_FORMAT,
        "party": party,
        "kdf": {"name": "scrypt", "salt": b64u_encode(salt), **_SCRYPT},
        "nonce": b64u_encode(nonce),
        "ciphertext": b64u_encode(sealed),
    }


def open_transfer(data: Any, passphrase: str, party: str) -> list[dict[str, Any]]:
    """The keys of a transfer file for ``party``; a wrong passphrase or an altered file
    is one error (AES-GCM authenticates the file and the party it names)."""
    if not isinstance(data, dict) or data.get("format") != TRANSFER_FORMAT:
        raise InputError("not a party key file written by 'exchange keys share --out'")
    if data.get("party") != party:
        raise InputError(f"this file holds keys of {data.get('party')}, not {party}")
    try:
        kdf = data["kdf"]
        if kdf.get("name") != "scrypt" or {k: kdf.get(k) for k in _SCRYPT} != _SCRYPT:
            raise InputError("unsupported key derivation in the key file")
        key = _kdf(passphrase, b64u_decode(kdf["salt"]))
        aad = f"{TRANSFER_FORMAT}:{party}".encode()
        plain = AESGCM(key).decrypt(
            b64u_decode(data["nonce"]), b64u_decode(data["ciphertext"]), aad
        )
        keys = json.loads(plain)["keys"]
    except InvalidTag:
        raise InputError("wrong passphrase, or the key file was altered") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed party key file ({type(exc).__name__})") from None
    if not isinstance(keys, list) or not keys:
        raise InputError("the key file holds no key")
    return keys
