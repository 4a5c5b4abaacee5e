"""The reachability and directory-health sections of a report (issue 14): who has gone
quiet, which keys are old or never rotated, which clients were never used."""

from __future__ import annotations

from typing import Any

from exchange.service.clock import iso_ms

__all__ = [
    "KEY_MAX_AGE_DAYS",
    "KEY_WARN_DAYS",
    "QUIET_DAYS",
    "directory_health",
    "reachability",
]

#: a key older than this is past its recommended lifetime (keys carry no expiry)
KEY_MAX_AGE_DAYS = 365
#: ... and within this many days of it, near it
KEY_WARN_DAYS = 30
#: a State with no live stream and no inbox pull for this long has gone quiet
QUIET_DAYS = 7
_DAY_MS = 86_400_000


def reachability(parties: list[str], seen_rows: list[dict[str, Any]], now: int) -> list[Any]:
    by = {r["party"]: r for r in seen_rows}
    out = []
    for p in parties:
        r = by.get(p, {})
        live = max((r.get(k) or 0) for k in ("stream_at", "inbox_at")) if r else 0
        out.append(
            {
                "party": p,
                "last_stream": iso_ms(r.get("stream_at")),
                "last_inbox": iso_ms(r.get("inbox_at")),
                "last_request": iso_ms(r.get("request_at")),
                "quiet": not live or now - live > QUIET_DAYS * _DAY_MS,
                "days_since_seen": round((now - live) / _DAY_MS, 1) if live else None,
            }
        )
    return out


def directory_health(parties: list[str], dirs: dict[str, Any], now: int) -> dict[str, Any]:
    wanted = set(parties)
    warn_at = (KEY_MAX_AGE_DAYS - KEY_WARN_DAYS) * _DAY_MS

    def age_state(created: int) -> str | None:
        age = now - created
        if age > KEY_MAX_AGE_DAYS * _DAY_MS:
            return "past-lifetime"
        return "near-lifetime" if age > warn_at else None

    ever: dict[str, int] = {}
    for k in dirs["enc_keys"]:
        ever[k["party"]] = ever.get(k["party"], 0) + 1
    keys = []
    for k in dirs["enc_keys"]:
        if k["party"] not in wanted or k["status"] != "active":
            continue
        flags = [f for f in (age_state(int(k["created_at"])),) if f]
        if ever[k["party"]] == 1:
            flags.append("never-rotated")
        if flags:
            keys.append(_key("encryption", k["party"], k["kid"], None, k["created_at"], now, flags))
    unused = []
    for c in dirs["clients"]:
        if c["party"] not in wanted or c["status"] != "active":
            continue
        flag = age_state(int(c["created_at"]))
        if flag:
            keys.append(
                _key("signing", c["party"], c["kid"], c["id"], c["created_at"], now, [flag])
            )
        if c["request_at"] is None:
            unused.append(
                {"client": c["id"], "party": c["party"], "created_at": iso_ms(c["created_at"])}
            )
    have_key = {k["party"] for k in dirs["enc_keys"] if k["status"] == "active"}
    return {
        "keys": keys,
        "unused_clients": unused,
        "without_encryption_key": sorted(wanted - have_key),
    }


def _key(
    use: str, party: str, kid: str, client: str | None, created: int, now: int, flags: list[str]
) -> dict[str, Any]:
    return {
        "use": use,
        "party": party,
        "kid": kid,
        "client": client,
        "created_at": iso_ms(int(created)),
        "age_days": round((now - int(created)) / _DAY_MS, 1),
        "flags": flags,
    }
