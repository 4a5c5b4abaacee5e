"""Key files and profiles on disk (PROTOCOL §9). Private key files are mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from exchange.errors import InputError

__all__ = [
    "Profile",
    "profile_dir",
    "read_json",
    "read_profile",
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
