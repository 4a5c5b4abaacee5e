"""Key expiry warnings (issue 18) for the CLI and the console: this desk's signing key
and its party's active encryption key, from the directory's ``expires_at`` (ms), when
one is within ``EXCHANGE_KEY_WARN_DAYS`` (30 by default) of its end, or past it.

The dates are kept in the profile (``key-expiry.json``) each time the directory is read,
so that a command which does not read the directory still warns."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_FILE",
    "DEFAULT_WARN_DAYS",
    "WARN_DAYS_ENV",
    "client_warnings",
    "expiry_dates",
    "key_warnings",
    "profile_warnings",
    "warn_days",
]

WARN_DAYS_ENV = "EXCHANGE_KEY_WARN_DAYS"
DEFAULT_WARN_DAYS = 30
CACHE_FILE = "key-expiry.json"
_DAY_MS = 86_400_000


def warn_days() -> float:
    raw = os.environ.get(WARN_DAYS_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_WARN_DAYS
    except ValueError:
        return DEFAULT_WARN_DAYS


def expiry_dates(doc: dict[str, Any], client_id: str) -> dict[str, int | None]:
    """The expiry (ms or None) of ``client_id``'s signing key and of its party's active
    encryption key, as the directory says."""
    party = client_id.split("/", 1)[0]
    me: dict[str, Any] = next((c for c in doc.get("clients", ()) if c.get("id") == client_id), {})
    enc: dict[str, Any] = next(
        (
            k
            for k in doc.get("encryption_keys", ())
            if k.get("party") == party and k.get("status") == "active"
        ),
        {},
    )
    return {"signing": me.get("expires_at"), "encryption": enc.get("expires_at")}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def key_warnings(
    dates: dict[str, int | None], client_id: str, *, now_ms: int | None = None, days: float
) -> list[str]:
    """Plain sentences, one per key near or past its expiry."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    party = client_id.split("/", 1)[0]
    out = []
    for kind, whose, fix in (
        ("signing", f"the signing key of {client_id}", "exchange keys rotate --signing"),
        ("encryption", f"the encryption key of {party}", "exchange keys rotate"),
    ):
        at = dates.get(kind)
        if not isinstance(at, int) or at - now > days * _DAY_MS:
            continue
        if at <= now:
            out.append(f"{whose} expired on {_when(at)} (renew it: '{fix}')")
        else:
            left = max(1, round((at - now) / _DAY_MS))
            out.append(f"{whose} expires in {left} day(s), on {_when(at)} ('{fix}')")
    return out


def profile_warnings(folder: Path, client_id: str, doc: dict[str, Any] | None) -> list[str]:
    """The warnings for a profile: from ``doc`` when the command read the directory (the
    dates are then kept in the profile), else from the dates kept last time."""
    cache = folder / CACHE_FILE
    dates: dict[str, Any]
    if doc is not None:
        dates = expiry_dates(doc, client_id)
        with contextlib.suppress(OSError):
            cache.write_text(json.dumps(dates) + "\n", encoding="utf-8")
    else:
        try:
            dates = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(dates, dict):
            return []
    return key_warnings(dates, client_id, days=warn_days())


def client_warnings(client: Any, *, use_profile: bool = True) -> list[str]:
    """The warnings for an ``ExchangeClient``: from the directory it read, if any (kept
    in its profile), else from the dates its profile kept. ``use_profile=False`` (the
    console, on its event loop) reads and writes no file: the directory only."""
    d = getattr(client, "_directory", None)
    doc = d.doc if d is not None else None
    folder = getattr(client, "profile_dir", None)
    if folder is not None and use_profile:
        return profile_warnings(folder, client.client_id, doc)
    if doc is None:
        return []
    return key_warnings(expiry_dates(doc, client.client_id), client.client_id, days=warn_days())
