"""The report as CSV (for the secretary's spreadsheet) and as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from exchange.vocab import ACK_STATUSES

__all__ = ["render_csv", "render_json"]

_STEPS = ("delivered", *ACK_STATUSES)
#: a cell starting with one of these is a formula to a spreadsheet (CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(_FORMULA):
        return "'" + v
    return v


def _section(w: Any, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    w.writerow([name])
    w.writerow(header)
    for r in rows:
        w.writerow([_cell(v) for v in r])
    w.writerow([])


def render_csv(report: dict[str, Any]) -> str:
    """Sections one under another, each a title row, a header row and its rows; times in
    seconds, shares as fractions (format them as % in the spreadsheet)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    scope = report["scope"]
    _section(
        w,
        "report",
        ("scope", "id", "from", "to", "generated_at", "bucket", "version"),
        [
            (
                scope["kind"],
                scope["id"],
                report["from"],
                report["to"],
                report["generated_at"],
                report["bucket"],
                report["version"],
            )
        ],
    )
    header = ["party", "priority", "deliveries", "delivered", "acknowledged"]
    for step in _STEPS:
        header += [f"{step}_n", f"to_{step}_median_s", f"to_{step}_p90_s"]
    header += ["due", "within_deadline", "within_deadline_share", "overdue"]
    _section(
        w,
        "recipients",
        header,
        (
            [r["party"], r["priority"], r["deliveries"], r["delivered"], r["acknowledged"]]
            + [
                v
                for step in _STEPS
                for v in (
                    (r["times"][step]["n"], r["times"][step]["median_s"], r["times"][step]["p90_s"])
                    if r["times"]
                    else (None, None, None)
                )
            ]
            + [r["due"], r["within_deadline"], r["within_deadline_share"], r["overdue"]]
            for r in report["recipients"]
        ),
    )
    _section(
        w,
        "posted",
        ("sender", "type", "priority", "bulletins"),
        ((p["iss"], p["type"], p["priority"], p["count"]) for p in report["posted"]),
    )
    _section(
        w,
        "trend",
        (
            "period",
            "start",
            "deliveries",
            "acknowledged",
            "due",
            "within_deadline",
            "within_deadline_share",
        ),
        (
            (
                t["period"],
                t["start"],
                t["deliveries"],
                t["acknowledged"],
                t["due"],
                t["within_deadline"],
                t["within_deadline_share"],
            )
            for t in report["trend"]
        ),
    )
    _section(
        w,
        "overdue",
        ("party", "sender", "priority", "bid", "accepted_at", "deadline", "late_s"),
        (
            (
                o["party"],
                o["iss"],
                o["priority"],
                o["bid"],
                o["accepted_at"],
                o["deadline"],
                o["late_s"],
            )
            for o in report["overdue"]["items"]
        ),
    )
    _section(
        w,
        "reachability",
        ("party", "last_stream", "last_inbox", "last_request", "quiet", "days_since_seen"),
        (
            (
                s["party"],
                s["last_stream"],
                s["last_inbox"],
                s["last_request"],
                s["quiet"],
                s["days_since_seen"],
            )
            for s in report["reachability"]
        ),
    )
    _section(
        w,
        "directory_keys",
        ("party", "use", "client", "kid", "created_at", "age_days", "flags"),
        (
            (
                k["party"],
                k["use"],
                k["client"],
                k["kid"],
                k["created_at"],
                k["age_days"],
                " ".join(k["flags"]),
            )
            for k in report["directory"]["keys"]
        ),
    )
    _section(
        w,
        "unused_clients",
        ("client", "party", "created_at"),
        ((c["client"], c["party"], c["created_at"]) for c in report["directory"]["unused_clients"]),
    )
    return buf.getvalue()


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
