"""Key files and profiles on disk (PROTOCOL §9). Private key files are mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from exchange.errors import InputError

__all__ = [
    "PRIVATE_MEMBERS",
    "PUBLIC_FILE",
    "Profile",
    "fingerprint",
    "has_private_material",
    "profile_dir",
    "public_bundle",
    "read_json",
    "read_profile",
    "read_public_bundle",
    "write_json",
    "write_profile",
    "write_secret_json",
]


def write_secret_json(path: Path, obj: Any, *, overwrite: bool = False) -> None:
    """Write ``obj`` to a new file created with mode 0600 (never world-readable, even
    briefly); refuses to overwrite an existing key unless asked."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise InputError(f"{path} already exists; refusing to overwrite a key") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path} not found") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not readable JSON: {exc}") from exc


@dataclass(frozen=True)
class Profile:
    """``profile.json`` of a client (PROTOCOL §9)."""

    client_id: str
    party: str
    server_url: str
    exchange_id: str
    server_kid: str


def profile_dir(keys_dir: Path, client_id: str) -> Path:
    party, _, name = client_id.partition("/")
    return keys_dir / party / name


def write_profile(folder: Path, profile: Profile) -> None:
    write_json(folder / "profile.json", asdict(profile))


def read_profile(folder: Path) -> Profile:
    data = read_json(folder / "profile.json")
    try:
        return Profile(**{k: str(data[k]) for k in Profile.__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise InputError(f"{folder / 'profile.json'} is missing {exc}") from exc


# --- the public hand-off file (keys/PARTY/name/public.json) ----------------------------

#: the file ``exchange keygen`` writes for the operator: public keys only
PUBLIC_FILE = "public.json"
PUBLIC_FORMAT = "avsec-public-keys/1"
#: JWK members that hold private key material (RFC 7518 §6, PROTOCOL §9 hybrid keys)
PRIVATE_MEMBERS = frozenset(
    {"d", "p", "q", "dp", "dq", "qi", "k", "x25519_d", "mlkem768_d", "ed25519_d", "mldsa65_d"}
)


def has_private_material(obj: Any) -> bool:
    """Whether any object inside ``obj`` carries a private JWK member."""
    if isinstance(obj, dict):
        return bool(PRIVATE_MEMBERS & obj.keys()) or any(
            has_private_material(v) for v in obj.values()
        )
    if isinstance(obj, list):
        return any(has_private_material(v) for v in obj)
    return False


def fingerprint(bundle: dict[str, Any]) -> str:
    """A short digest of the public keys in a hand-off file, read aloud over the phone
    by the State and the operator: 128 bits of SHA-256 as eight groups of four."""
    import hashlib

    keys = {k: bundle.get(k) for k in ("client_id", "signing", "encryption")}
    digest = hashlib.sha256(
        json.dumps(keys, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:32]
    return "-".join(digest[i : i + 4].upper() for i in range(0, 32, 4))


def public_bundle(
    client_id: str, signing: dict[str, Any], encryption: dict[str, Any] | None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "format": PUBLIC_FORMAT,
        "client_id": client_id,
        "party": client_id.split("/", 1)[0],
        "signing": signing,
    }
    if encryption is not None:
        bundle["encryption"] = encryption
    if has_private_material(bundle):  # never: the caller passes public JWKs
        raise InputError("refusing to write private key material to the public file")
    bundle["fingerprint"] = fingerprint(bundle)
    return bundle


def read_public_bundle(path: Path) -> dict[str, Any]:
    """A hand-off file as sent to the operator; refuses one holding private keys."""
    data = read_json(path)
    if has_private_material(data):
        raise InputError(
            f"{path} holds private key material: never send it; send the public.json "
            "that 'exchange keygen' wrote"
        )
    if not isinstance(data, dict) or data.get("format") != PUBLIC_FORMAT:
        raise InputError(f"{path} is not a public key file written by 'exchange keygen'")
    if not isinstance(data.get("client_id"), str) or not isinstance(data.get("signing"), dict):
        raise InputError(f"{path} lacks client_id or signing")
    stated = data.get("fingerprint")
    if stated is not None and stated != fingerprint(data):
        raise InputError(f"{path}: its fingerprint does not match its keys (altered?)")
    return data
