# ruff: noqa: S608 - SQL text here interpolates module constants and integers only;
# every value from a request is a bound parameter.
"""Report queries (issue 14): delivery and acknowledgement figures as SQL aggregates over
metadata only, on SQLite and PostgreSQL alike.

One read transaction computes a report. Its per-delivery facts (times of acceptance,
delivery, first ack of each status, deadline) are put once into a temporary table, and
every figure is an aggregate over it: counts by ``GROUP BY``, medians and 90th
percentiles by rank (``ROW_NUMBER``/``COUNT`` windows), so no row is read into Python.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from exchange.store import report_days
from exchange.store.report_days import DAY_MS
from exchange.store.report_seen import (
    SeenMark,
    directory_rows,
    record_seen,
    seen_rows,
)

__all__ = [
    "EXACT_BELOW",
    "STEPS",
    "Scope",
    "SeenMark",
    "directory_rows",
    "figures",
    "record_seen",
    "seen_rows",
]

_TEMP = "rpt_delivery"
#: below this many deliveries on summarized days, a report reads delivery rows alone and
#: its percentiles are exact (a few thousand rows sort in no time)
EXACT_BELOW = 20_000
#: PostgreSQL memory per sort of a report (its default of 4 MB sorts a year on disk)
_PG_WORK_MEM = "64MB"


@dataclass(frozen=True)
class Scope:
    """Whose figures: ``kind`` is ``all``, ``group`` or ``party`` (PROTOCOL §7, 1.1)."""

    kind: str
    id: str | None = None


def _scope_sql(scope: Scope, b: str = "b", d: str = "d") -> tuple[str, dict[str, Any]]:
    """The WHERE fragment over ``d`` (deliveries) and ``b`` (bulletins) for a scope.

    A group's report holds the bulletins addressed to the group (its id in ``groups``),
    delivered to the group's current members: a party named in ``to`` beside the group
    is not the group's business. A party's report holds what it sent and what it was
    sent. Bulletins to named parties only (TLP:RED has no group) are thus only in the
    sender's and the recipient's reports, and in the operator's."""
    if scope.kind == "group":
        return (
            f" AND {b}.groups LIKE :gpat"
            # ``|| ''``: not an index key, so the period (or deadline) index drives the
            # query instead of every delivery of the members
            f" AND ({d}.party || '') IN (SELECT m.party FROM memberships m"
            " WHERE m.group_id = :gid)",
            {"gpat": "%" + json.dumps(scope.id) + "%", "gid": scope.id},
        )
    if scope.kind == "party":
        return f" AND ({b}.iss = :pid OR {d}.party = :pid)", {"pid": scope.id}
    return "", {}


def _period_sql(bounds: Sequence[int], at: str = "b.accepted_at") -> str:
    """The index of the trend period holding ``at`` (bounds are ascending period starts
    in ms; literal integers, never user text)."""
    whens = " ".join(f"WHEN {at} < {int(hi)} THEN {i}" for i, hi in enumerate(bounds[1:]))
    return f"CASE {whens} ELSE {len(bounds) - 1} END" if whens else "0"


#: the steps whose times a report gives, and the column of each in the temporary table
STEPS = {"delivered": "d_del", "received": "d_ack", "read": "d_read", "actioned": "d_act"}


def _create_temp(
    conn: Connection, scope: Scope, ranges: Sequence[tuple[int, int]], bounds: Sequence[int]
) -> None:
    """One row per delivery in scope accepted in one of ``ranges``: its keys and its times
    relative to acceptance, with an index per step so that each rank is an index walk."""
    where, params = _scope_sql(scope)
    pg = conn.dialect.name == "postgresql"
    if pg:
        # sorts for the percentiles in memory, for this transaction only
        conn.execute(text(f"SET LOCAL work_mem = '{_PG_WORK_MEM}'"))
        create = f"CREATE TEMP TABLE {_TEMP} ON COMMIT DROP AS"
    else:
        create = f"CREATE TEMP TABLE {_TEMP} AS"
        # temporary tables and sorts are in memory (``temp_store``, set on every SQLite
        # connection by store/db.py: SQLite refuses to change it inside a transaction)
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{_TEMP}"))
    # one statement per range, each along the acceptance-time index (an OR of ranges
    # would scan every bulletin), and each bulletin's deliveries by their bid index
    # (deliveries are keyed by party first); CROSS JOIN keeps SQLite's bulletins outer
    for i, (a, z) in enumerate(ranges or [(0, 0)]):
        head = create if i == 0 else f"INSERT INTO {_TEMP}"
        conn.execute(
            text(
                f"""{head}
                SELECT d.party AS party, d.priority AS priority,
                       b.accepted_at AS acc, d.deadline AS deadline,
                       {_period_sql(bounds)} AS period,
                       d.delivered_at - b.accepted_at AS d_del,
                       d.acked_at - b.accepted_at AS d_ack,
                       d.read_at - b.accepted_at AS d_read,
                       d.actioned_at - b.accepted_at AS d_act
                FROM bulletins b CROSS JOIN deliveries d
                WHERE d.bid = b.bid
                  AND b.accepted_at >= {int(a)} AND b.accepted_at < {int(z)}{where}"""
            ),
            params,
        )
    if pg:
        return  # PostgreSQL takes the ranks with its own ordered-set aggregates
    for col in STEPS.values():
        conn.execute(
            text(
                f"CREATE INDEX ix_{_TEMP}_{col} ON {_TEMP} (party, priority, {col})"
                f" WHERE {col} IS NOT NULL"
            )
        )


def _percentiles(conn: Connection, counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (party, priority, step): the median (mean of the two middle ranks when n is
    even) and the 90th percentile (nearest rank, ceil(0.9 n)), in ms. Each rank is
    read with ``ORDER BY … LIMIT … OFFSET`` along the step's index; PostgreSQL's
    ``percentile_cont(0.5)`` and ``percentile_disc(0.9)`` are these very definitions
    (``percentile_disc`` takes rank ceil(0.9 n)) in one sorted pass per group."""
    if conn.dialect.name == "postgresql":
        return _percentiles_pg(conn)
    out = []
    for c in counts:
        for step, col in STEPS.items():
            n = int(c[f"n_{col}"] or 0)
            if not n:
                continue
            q = text(
                f"SELECT {col} FROM {_TEMP} WHERE party = :p AND priority = :r"
                f" AND {col} IS NOT NULL ORDER BY {col} LIMIT :n OFFSET :k"
            )
            keys = {"p": c["party"], "r": c["priority"]}
            mid = [
                int(v) for v in conn.execute(q, {**keys, "n": 2, "k": (n + 1) // 2 - 1}).scalars()
            ]
            median = mid[0] if n % 2 else (mid[0] + mid[1]) / 2
            p90 = conn.execute(q, {**keys, "n": 1, "k": (9 * n + 9) // 10 - 1}).scalar_one()
            out.append(
                {
                    "metric": step,
                    "party": c["party"],
                    "priority": c["priority"],
                    "n": n,
                    "median_ms": median,
                    "p90_ms": int(p90),
                }
            )
    return out


def _percentiles_pg(conn: Connection) -> list[dict[str, Any]]:
    aggs = ", ".join(
        f"COUNT({c}) AS n_{c}, percentile_cont(0.5) WITHIN GROUP (ORDER BY {c}) AS m_{c},"
        f" percentile_disc(0.9) WITHIN GROUP (ORDER BY {c}) AS p_{c}"
        for c in STEPS.values()
    )
    rows = conn.execute(
        text(f"SELECT party, priority, {aggs} FROM {_TEMP} GROUP BY party, priority")
    ).all()
    out = []
    for r in rows:
        m = r._mapping
        for step, col in STEPS.items():
            if m[f"n_{col}"]:
                out.append(
                    {
                        "metric": step,
                        "party": r.party,
                        "priority": r.priority,
                        "n": int(m[f"n_{col}"]),
                        "median_ms": float(m[f"m_{col}"]),
                        "p90_ms": int(m[f"p_{col}"]),
                    }
                )
    return out


_COUNTS = (
    "deliveries",
    "delivered",
    "acknowledged",
    "n_d_del",
    "n_d_ack",
    "n_d_read",
    "n_d_act",
    "due",
    "within",
    "overdue",
)


def _cells(conn: Connection, now: int) -> list[dict[str, Any]]:
    """Every count per (period, party, priority), in one ``GROUP BY`` (one sort): the
    per-(party, priority) figures and the trend are sums of these few rows."""
    rows = conn.execute(
        text(
            f"""SELECT period, party, priority, COUNT(*) AS deliveries,
                   COUNT(d_del) AS delivered, COUNT(d_ack) AS acknowledged,
                   COUNT(d_del) AS n_d_del, COUNT(d_ack) AS n_d_ack,
                   COUNT(d_read) AS n_d_read, COUNT(d_act) AS n_d_act,
                   SUM(CASE WHEN deadline IS NOT NULL AND (d_ack IS NOT NULL OR deadline < :now)
                       THEN 1 ELSE 0 END) AS due,
                   SUM(CASE WHEN d_ack <= deadline - acc THEN 1 ELSE 0 END) AS within,
                   SUM(CASE WHEN d_ack IS NULL AND deadline < :now THEN 1 ELSE 0 END)
                       AS overdue
            FROM {_TEMP} GROUP BY period, party, priority"""
        ),
        {"now": now},
    ).all()
    return [dict(r._mapping) for r in rows]


def _rollup(cells: list[dict[str, Any]], keys: tuple[str, str]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, Any], dict[str, Any]] = {}
    for c in cells:
        k = (c[keys[0]], c[keys[1]])
        row = out.setdefault(k, {keys[0]: k[0], keys[1]: k[1], **dict.fromkeys(_COUNTS, 0)})
        for name in _COUNTS:
            row[name] += int(c[name] or 0)
    return list(out.values())


def _overdue(
    conn: Connection, scope: Scope, lo: int, hi: int, now: int, limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` deliveries in scope with no ack and the earliest passed deadlines
    (along the deliveries' deadline index)."""
    where, params = _scope_sql(scope)
    rows = conn.execute(
        text(
            f"""SELECT d.bid AS bid, b.iss AS iss, d.party AS party, d.priority AS priority,
                   b.accepted_at AS acc, d.deadline AS deadline
            FROM deliveries d JOIN bulletins b ON b.seq = d.seq
            WHERE d.acked_at IS NULL AND d.deadline < :now
              AND b.accepted_at >= :lo AND b.accepted_at < :hi{where}
            ORDER BY d.deadline, d.bid, d.party LIMIT :limit"""
        ),
        {"now": now, "lo": lo, "hi": hi, "limit": limit, **params},
    ).all()
    return [dict(r._mapping) for r in rows]


def _posted(conn: Connection, scope: Scope, lo: int, hi: int) -> list[dict[str, Any]]:
    """Bulletins per sender, type and priority. A group: those addressed to it; a party:
    those it sent or was sent."""
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    where = ""
    if scope.kind == "group":
        where = " AND b.groups LIKE :gpat"
        params["gpat"] = "%" + json.dumps(scope.id) + "%"
    elif scope.kind == "party":
        where = (
            " AND (b.iss = :pid OR EXISTS (SELECT 1 FROM deliveries d"
            " WHERE d.party = :pid AND d.seq = b.seq))"
        )
        params["pid"] = scope.id
    rows = conn.execute(
        text(
            f"""SELECT b.iss AS iss, b.type AS type, b.priority AS priority, COUNT(*) AS n
            FROM bulletins b WHERE b.accepted_at >= :lo AND b.accepted_at < :hi{where}
            GROUP BY b.iss, b.type, b.priority"""
        ),
        params,
    ).all()
    return [dict(r._mapping) for r in rows]


def _raw_ranges(lo: int, hi: int, first: int, end: int, days: set[int]) -> list[tuple[int, int]]:
    """The parts of [lo, hi) a report computes from delivery rows: the partial days at
    the edges and the whole days in ``days``, contiguous days merged."""
    out: list[tuple[int, int]] = []
    spans = [(lo, first * DAY_MS), *((d * DAY_MS, (d + 1) * DAY_MS) for d in sorted(days))]
    for a, z in [*spans, (end * DAY_MS, hi)]:
        if a >= z:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], z)
        else:
            out.append((a, z))
    return out


def _mixed_percentiles(conn: Connection, hists: dict[Any, Any]) -> list[dict[str, Any]]:
    """Percentiles from the summaries' histograms and the times of the delivery rows."""
    cols = list(STEPS.values())
    per: dict[tuple[str, str], list[list[int]]] = {}
    for r in conn.execute(text(f"SELECT party, priority, {', '.join(cols)} FROM {_TEMP}")):
        t = per.setdefault((r[0], r[1]), [[], [], [], []])
        for i in range(4):
            if r[2 + i] is not None:
                t[i].append(int(r[2 + i]))
    for (party, prio), t in per.items():
        for i, values in enumerate(t):
            report_days.add_values(hists, party, prio, i, values)
    return report_days.hist_percentiles(hists, list(STEPS))


def figures(
    conn: Connection,
    scope: Scope,
    lo: int,
    hi: int,
    now: int,
    bounds: Sequence[int],
    overdue_limit: int,
) -> dict[str, Any]:
    """Every delivery figure of a report, in one read transaction: whole days from the
    per-day summaries where they are built and settled, the rest from delivery rows
    (all of it from delivery rows, exactly, when the summaries hold few deliveries)."""
    first, end = -(-lo // DAY_MS), hi // DAY_MS
    more: list[dict[str, Any]] = []
    hists = None
    ranges = [(lo, hi)]
    if end > first:
        until, raw = report_days.settled(conn, first, end, now)
        days = (first, until, raw)
        where, params = _scope_sql(scope, "r", "r")
        if until > first:
            period = _period_sql(bounds, "r.day * 86400000")
            more = report_days.summary_cells(conn, days, where, params, period)
        if sum(c["deliveries"] for c in more) >= EXACT_BELOW:
            hists = report_days.summary_hists(conn, days, where, params)
            ranges = _raw_ranges(lo, hi, first, end, raw | set(range(until, end)))
        else:
            more = []
    _create_temp(conn, scope, ranges, bounds)
    try:
        cells = _cells(conn, now) + more
        counts = _rollup(cells, ("party", "priority"))
        return {
            "posted": _posted(conn, scope, lo, hi),
            "counts": counts,
            "percentiles": (
                _percentiles(conn, counts) if hists is None else _mixed_percentiles(conn, hists)
            ),
            "trend": _rollup(cells, ("period", "party")),
            "overdue_total": sum(c["overdue"] for c in counts),
            "overdue": _overdue(conn, scope, lo, hi, now, overdue_limit),
            "approximate": hists is not None,
        }
    finally:
        if conn.dialect.name != "postgresql":
            conn.execute(text(f"DROP TABLE IF EXISTS temp.{_TEMP}"))
