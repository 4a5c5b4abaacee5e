"""Effectiveness reports (issue 14; PROTOCOL §7, version 1.1): who may see which
figures, the report's period and trend buckets, and the report document itself.

Everything comes from metadata the server holds; the definitions travel in the
report (``definitions``) so that a printed copy explains itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exchange.config import Limits
from exchange.errors import Forbidden, InputError, NotFound
from exchange.service import report_sections as sections
from exchange.service.caller import Caller
from exchange.service.clock import Clock, iso_ms
from exchange.service.report_sections import KEY_MAX_AGE_DAYS, KEY_WARN_DAYS, QUIET_DAYS
from exchange.service.seen import SeenMarks
from exchange.store import report_days
from exchange.store import reports as rstore
from exchange.store.db import Database
from exchange.vocab import GROUP_ID_RE, PARTY_ID_RE, POSTING_ROLES, PRIORITIES

__all__ = [
    "DEFAULT_DAYS",
    "DEFINITIONS",
    "KEY_MAX_AGE_DAYS",
    "KEY_WARN_DAYS",
    "QUIET_DAYS",
    "REPORTS_AT_ONCE",
    "REPORT_VERSION",
    "SUMMARY_DAYS_PER_CALL",
    "Reports",
    "parse_time",
    "period_bounds",
]

REPORT_VERSION = "1.1"
#: the period when the request names none: the 90 days up to now
DEFAULT_DAYS = 90
_DAY_MS = 86_400_000
#: a period longer than this is bucketed by month, shorter by week
_WEEKLY_UP_TO_DAYS = 120

DEFINITIONS: dict[str, str] = {
    "scope": "all: every bulletin; group: bulletins addressed to the group, delivered to "
    "its current members; party: bulletins the party sent or was sent.",
    "period": "Bulletins accepted by the server from 'from' (included) to 'to' (excluded).",
    "delivery": "One bulletin to one recipient State. Times are measured from the "
    "server's acceptance of the bulletin.",
    "delivered": "First push over a live stream or first fetch through the inbox.",
    "received": "First signed ack of any status (read and actioned imply receipt).",
    "read": "First signed ack 'read' or 'actioned'.",
    "actioned": "Signed ack 'actioned'.",
    "median": "Middle value of the deliveries that reached the step (mean of the two "
    "middle values when their number is even); deliveries that did not reach it are "
    "left out and counted apart.",
    "p90": "90th percentile, nearest rank: the value at rank ceil(0.9 n) in ascending order.",
    "precision": "Counts and shares are exact. When the whole days of the period hold "
    f"{rstore.EXACT_BELOW:,} deliveries or more, medians and 90th percentiles are taken "
    "from per-day histograms of logarithmic bins 2% wide, by the same ranks: each is "
    "within 1% of the exact value (within 0.5 s below one second); the report then says "
    "'approximate': true. Below that, they are exact.",
    "within_deadline": "Share of due deliveries whose first ack came at or before the ack "
    "deadline of the bulletin's priority. A delivery is due once it has been acked or "
    "its deadline has passed.",
    "overdue": "No ack of any status and the deadline passed, as of the report's "
    "generation; lateness is the time since the deadline.",
    "trend": "Deliveries, acks and the share acked in time per calendar week (Monday, "
    "UTC) or month of acceptance.",
    "all": "A State's row over all priorities: counts and shares only (times are given "
    "per priority, whose deadlines differ).",
    "quiet": f"No live stream and no inbox pull for {QUIET_DAYS} days (or never).",
    "key_age": f"Keys carry no expiry; one older than {KEY_MAX_AGE_DAYS} days is past its "
    f"recommended lifetime, within {KEY_WARN_DAYS} days of it near it. 'never rotated': "
    "the State has only ever had this one encryption key.",
    "unused_client": "An active client that has made no authenticated request since the "
    "server began recording it (schema 0006_reports).",
}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: reports computed at once on one node: each reads a period's deliveries, so a burst of
#: requests waits its turn instead of taking every database connection and core
REPORTS_AT_ONCE = 2


def parse_time(value: str, name: str, *, end: bool = False) -> int:
    """A date (``2026-03-31``: its start, or with ``end`` the start of the next day, so
    that ``to`` includes the whole day) or an RFC 3339 time with an offset, in ms."""
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no offset")
    except (ValueError, OverflowError):
        raise InputError(
            f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 time with an offset"
        ) from None
    return int(moment.timestamp() * 1000)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def period_bounds(lo: int, hi: int, bucket: str) -> list[int]:
    """Trend period starts: ``lo``, then each calendar week (Monday) or month start
    after it and before ``hi``."""
    out = [lo]
    d = _utc(lo).date()
    if bucket == "week":
        nxt = d + timedelta(days=7 - d.weekday())
    else:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    while True:
        ms = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC).timestamp() * 1000)
        if ms >= hi:
            return out
        out.append(ms)
        if bucket == "week":
            nxt += timedelta(days=7)
        else:
            nxt = date(nxt.year + (nxt.month == 12), nxt.month % 12 + 1, 1)


def _label(ms: int, bucket: str) -> str:
    d = _utc(ms).date()
    if bucket == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year}-{d.month:02d}"


def _scope(caller: Caller, q: Mapping[str, str], dirs: dict[str, Any]) -> rstore.Scope:
    """PROTOCOL §7 (1.1): a group's chair and members, a party itself, the operator."""
    group, party = q.get("group"), q.get("party")
    if group is not None and party is not None:
        raise InputError("name a group or a party, not both")
    if group is not None:
        if not GROUP_ID_RE.fullmatch(group):
            raise InputError("group is not a group id")
        roles = {m["party"]: m["role"] for m in dirs["memberships"] if m["group_id"] == group}
        if not caller.is_admin and roles.get(caller.party) not in POSTING_ROLES:
            raise Forbidden("a group's report is for its chair, its members and the operator")
        if group not in {g["id"] for g in dirs["groups"]}:
            raise NotFound("no such group")
        return rstore.Scope("group", group)
    if party is not None:
        if not PARTY_ID_RE.fullmatch(party):
            raise InputError("party is not a party id")
        if not caller.is_admin and party != caller.party:
            raise Forbidden("a party's report is for the party itself and the operator")
        if party not in {p["id"] for p in dirs["parties"]}:
            raise NotFound("no such party")
        return rstore.Scope("party", party)
    if caller.is_admin:
        return rstore.Scope("all")
    return rstore.Scope("party", caller.party)


def _period(now: int, max_days: int, q: Mapping[str, str]) -> tuple[int, int, str]:
    hi = parse_time(q["to"], "to", end=True) if "to" in q else now
    lo = parse_time(q["from"], "from") if "from" in q else hi - DEFAULT_DAYS * _DAY_MS
    if lo >= hi:
        raise InputError("from must be before to")
    if hi - lo > max_days * _DAY_MS:
        raise InputError(f"a report covers at most {max_days} days")
    bucket = q.get("bucket") or ("week" if hi - lo <= _WEEKLY_UP_TO_DAYS * _DAY_MS else "month")
    if bucket not in ("week", "month"):
        raise InputError("bucket must be week or month")
    return lo, hi, bucket


def _secs(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _steps(pct: dict[tuple[str, str, str], dict[str, Any]], party: str, prio: str) -> Any:
    out: dict[str, Any] = {}
    for step in rstore.STEPS:
        p = pct.get((step, party, prio))
        out[step] = {
            "n": p["n"] if p else 0,
            "median_s": _secs(p["median_ms"]) if p else None,
            "p90_s": _secs(p["p90_ms"]) if p else None,
        }
    return out


def _share(within: int, due: int) -> float | None:
    return round(within / due, 4) if due else None


def _recipients(fig: dict[str, Any]) -> list[dict[str, Any]]:
    pct = {(p["metric"], p["party"], p["priority"]): p for p in fig["percentiles"]}
    totals: dict[str, dict[str, int]] = {}
    rows: list[dict[str, Any]] = []
    keys = ("deliveries", "delivered", "acknowledged", "due", "within", "overdue")
    for c in fig["counts"]:
        t = totals.setdefault(c["party"], dict.fromkeys(keys, 0))
        for k in keys:
            t[k] += int(c[k] or 0)
        rows.append({"party": c["party"], "priority": c["priority"], **_row(c, keys)})
        rows[-1]["times"] = _steps(pct, c["party"], c["priority"])
    for party, t in totals.items():
        # times are per priority only: a median across flash and routine means little
        rows.append({"party": party, "priority": "all", **_row(t, keys), "times": None})
    order = {p: i for i, p in enumerate((*PRIORITIES, "all"))}
    rows.sort(key=lambda r: (r["party"], order.get(r["priority"], 99)))
    return rows


def _row(c: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {k: int(c[k] or 0) for k in keys}
    out["within_deadline"] = out.pop("within")
    out["within_deadline_share"] = _share(out["within_deadline"], out["due"])
    return out


def _trend(fig: dict[str, Any], bounds: list[int], bucket: str) -> list[dict[str, Any]]:
    periods: list[dict[str, Any]] = [
        {
            "period": _label(b, bucket),
            "start": iso_ms(b),
            "deliveries": 0,
            "acknowledged": 0,
            "due": 0,
            "within_deadline": 0,
            "parties": {},
        }
        for b in bounds
    ]
    for r in fig["trend"]:
        p = periods[int(r["period"])]
        for k, src in (("deliveries", "deliveries"), ("acknowledged", "acknowledged")):
            p[k] += int(r[src] or 0)
        p["due"] += int(r["due"] or 0)
        p["within_deadline"] += int(r["within"] or 0)
        p["parties"][r["party"]] = {
            "deliveries": int(r["deliveries"]),
            "due": int(r["due"] or 0),
            "within_deadline": int(r["within"] or 0),
            "within_deadline_share": _share(int(r["within"] or 0), int(r["due"] or 0)),
        }
    for p in periods:
        p["within_deadline_share"] = _share(p["within_deadline"], p["due"])
    return periods


def _in_scope(scope: rstore.Scope, dirs: dict[str, Any]) -> list[str]:
    if scope.kind == "group":
        return sorted(m["party"] for m in dirs["memberships"] if m["group_id"] == scope.id)
    if scope.kind == "party":
        return [str(scope.id)]
    return [p["id"] for p in dirs["parties"]]


#: days of summaries built at most per call (a report's or the minute task's), so that a
#: first build after an upgrade never holds the writer long; unbuilt days are read from
#: the delivery rows meanwhile
SUMMARY_DAYS_PER_CALL = 14


class Reports:
    """The reports of one node (built once by ``Exchange``), at most
    ``REPORTS_AT_ONCE`` computed at a time."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        limits: Limits,
        ack_deadlines: dict[str, int],
        seen: SeenMarks,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.ack_deadlines = ack_deadlines  # stated in each report
        self.seen = seen  # flushed first, so that reachability is current
        self._slots = asyncio.Semaphore(REPORTS_AT_ONCE)

    async def refresh_summaries(self, max_days: int | None = SUMMARY_DAYS_PER_CALL) -> int:
        """Build the report summaries of past days and rebuild the changed ones (ADR 0018);
        the number of days left to build."""
        today = self.clock.ms() // _DAY_MS
        return await self.db.run_write(lambda conn: report_days.refresh(conn, today, max_days))

    async def report(self, caller: Caller, q: Mapping[str, str]) -> dict[str, Any]:
        """The report for ``group=``/``party=`` (or, for the operator, everything) over
        ``from``/``to``, trend by ``bucket`` (week or month)."""
        unknown = set(q) - {"group", "party", "from", "to", "bucket"}
        if unknown:
            raise InputError(f"unknown parameter {sorted(unknown)[0]!r}")
        await self.seen.flush()  # this node's marks first, so that the report is current
        dirs = await self.db.run_read(rstore.directory_rows)
        scope = _scope(caller, q, dirs)
        lo, hi, bucket = _period(self.clock.ms(), self.limits.report_max_days, q)
        now = self.clock.ms()
        bounds = period_bounds(lo, hi, bucket)
        limit = self.limits.report_overdue_items
        async with self._slots:
            await self.refresh_summaries()
            fig = await self.db.run_read(
                lambda conn: rstore.figures(conn, scope, lo, hi, now, bounds, limit)
            )
        parties = _in_scope(scope, dirs)
        seen_rows = await self.db.run_read(lambda conn: rstore.seen_rows(conn, parties))
        return {
            "version": REPORT_VERSION,
            "scope": {"kind": scope.kind, "id": scope.id},
            "from": iso_ms(lo),
            "to": iso_ms(hi),
            "generated_at": iso_ms(now),
            "bucket": bucket,
            "ack_deadlines_s": dict(self.ack_deadlines),
            "definitions": DEFINITIONS,
            "approximate": bool(fig["approximate"]),
            "posted": sorted(
                (
                    {
                        "iss": r["iss"],
                        "type": r["type"],
                        "priority": r["priority"],
                        "count": int(r["n"]),
                    }
                    for r in fig["posted"]
                ),
                key=lambda r: (r["iss"], r["type"], r["priority"]),
            ),
            "recipients": _recipients(fig),
            "overdue": {
                "total": fig["overdue_total"],
                "items": [
                    {
                        "bid": o["bid"],
                        "iss": o["iss"],
                        "party": o["party"],
                        "priority": o["priority"],
                        "accepted_at": iso_ms(int(o["acc"])),
                        "deadline": iso_ms(int(o["deadline"])),
                        "late_s": round((now - int(o["deadline"])) / 1000, 3),
                    }
                    for o in fig["overdue"]
                ],
            },
            "trend": _trend(fig, bounds, bucket),
            "reachability": sections.reachability(parties, seen_rows, now),
            "directory": sections.directory_health(parties, dirs, now),
        }
