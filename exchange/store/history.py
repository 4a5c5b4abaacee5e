"""A made-up history written straight into the store (bench/history.py and the report
tests): real routing metadata and ack times, no envelope, no audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert

from exchange.store import report_days
from exchange.store import schema as s

__all__ = ["bulk_history", "history_bulletin"]

#: rows per executemany: each statement well within a statement timeout
_CHUNK = 5_000


def bulk_history(
    conn: Connection,
    bulletins: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
    acks: Sequence[dict[str, Any]],
) -> None:
    """Insert a made-up history by executemany (bench/history.py and
    report tests only: the rows are not in the audit log and hold no envelope). Each
    delivery gets its first-ack times from ``acks`` here, as the trigger would."""
    # acks before their deliveries: the trigger of 0006_reports then has nothing to do
    for table, rows in (
        (s.acks, list(acks)),
        (s.bulletins, list(bulletins)),
        (s.deliveries, _with_ack_times(deliveries, acks)),
    ):
        # statements of a few thousand rows: each well within a statement timeout
        for i in range(0, len(rows), _CHUNK):
            conn.execute(insert(table), rows[i : i + _CHUNK])
    # days in the past whose report summaries, if built, no longer hold everything
    report_days.mark_days(conn, (b["accepted_at"] // report_days.DAY_MS for b in bulletins))


def history_bulletin(
    seq: int,
    bid: str,
    iss: str,
    *,
    type_: str,
    priority: str,
    tlp: str,
    groups: Sequence[str],
    to: Sequence[str],
    recipients: Sequence[str],
    accepted_at: int,
) -> dict[str, Any]:
    """A ``bulletins`` row of a made-up history: real metadata, no envelope or receipt
    (a report reads neither)."""
    return {
        "seq": seq,
        "bid": bid,
        "iss": iss,
        "client_id": f"{iss}/ops",
        "kid": "history",
        "type": type_,
        "priority": priority,
        "tlp": tlp,
        "iat": accepted_at // 1000,
        "exp": None,
        "supersedes": None,
        "groups": json.dumps(list(groups), separators=(",", ":")),
        "to": json.dumps(list(to), separators=(",", ":")),
        "recipients": json.dumps(sorted(recipients), separators=(",", ":")),
        "envelope": "",
        "envelope_sha256": "",
        "accepted_at": accepted_at,
        "log_index": 0,
        "receipt": "",
    }


def _with_ack_times(
    deliveries: Sequence[dict[str, Any]], acks: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The deliveries with their first-ack times, as the trigger of 0006_reports keeps
    them: first of any status, first of read/actioned, first actioned."""
    first: dict[tuple[str, str], list[int | None]] = {}
    for a in acks:
        t = first.setdefault((a["bid"], a["party"]), [None, None, None])
        at = int(a["received_at"])
        for i, hit in enumerate(
            (True, a["status"] in ("read", "actioned"), a["status"] == "actioned")
        ):
            cur = t[i]
            if hit and (cur is None or at < cur):
                t[i] = at
    out = []
    for d in deliveries:
        t = first.get((d["bid"], d["party"]), [None, None, None])
        out.append({**d, "acked_at": t[0], "read_at": t[1], "actioned_at": t[2]})
    return out
