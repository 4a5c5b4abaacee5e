# ruff: noqa: S608 - SQL text here interpolates module constants and integers only;
# every value from a request is a bound parameter.
"""Per-day report summaries (issue 14, ADR 0018): a report over a year adds up a few
thousand rows of ``report_days`` instead of sorting a million deliveries.

A summary row holds, per (day of acceptance, sender, recipient, priority, groups), the
counts a report needs and a histogram of each step's time in logarithmic bins 2 % wide
(so a median or 90th percentile taken from it is within 1 % of the exact value). Days
are (re)built from the delivery rows by :func:`refresh`: every day before today once,
and again when ``report_dirty`` names it (a trigger on ``acks`` adds a mark per ack,
:func:`mark_delivered_days` one statement per batch of delivery marks). A report
uses a day's rows only if the day is built, not marked, and no open deadline in it is
still to come; any other day is computed from the delivery rows (store/reports.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, insert, select, text

from exchange.store import schema as s

__all__ = [
    "BIN_RATIO",
    "DAY_MS",
    "add_values",
    "bin_value",
    "bins_of",
    "hist_percentiles",
    "mark_days",
    "mark_delivered_days",
    "percentile_ranks",
    "refresh",
    "settled",
    "summary_cells",
    "summary_hists",
]

DAY_MS = 86_400_000
#: width of a histogram bin: a bin's middle is within 1 % of every value in it
BIN_RATIO = 1.02
_NBINS = 1024
_LOG = math.log(BIN_RATIO)
#: the step columns, in the order of store/reports.py's STEPS
STEP_COLS = ("d_del", "d_ack", "d_read", "d_act")
_BUILD_CHUNK_DAYS = 16
_LOCK_ID = 0x5E901714  # PostgreSQL advisory lock: one refresh at a time


def bins_of(values_ms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The bin of each time: 0 below one second, then ``1 + floor(log_1.02(v / 1 s))``."""
    v = np.maximum(values_ms.astype(np.float64), 1.0)
    b = np.where(v < 1000.0, 0, 1 + np.floor(np.log(v / 1000.0) / _LOG))
    return np.minimum(b, _NBINS - 1).astype(np.int64)


def bin_value(b: int) -> float:
    """The value a bin stands for, in ms: 500 below one second, else its geometric middle."""
    return 500.0 if b <= 0 else 1000.0 * BIN_RATIO ** (b - 0.5)


def percentile_ranks(n: int) -> tuple[int, int, int]:
    """1-based ranks of the median's two middle values (equal when ``n`` is odd) and of
    the 90th percentile, ceil(0.9 n): the definitions of the exact path."""
    return (n + 1) // 2, n // 2 + 1 if n % 2 == 0 else (n + 1) // 2, (9 * n + 9) // 10


def mark_days(conn: Connection, days: Iterable[int]) -> None:
    """Mark days for rebuilding (a history written into the past)."""
    rows = [{"day": int(d)} for d in sorted(set(days))]
    if rows:
        conn.execute(insert(s.report_dirty), rows)


def mark_delivered_days(
    conn: Connection, seqs: Sequence[int], ranges: Sequence[tuple[str, int, int]]
) -> None:
    """The days of the bulletins just marked delivered: one statement for the batch."""
    if not seqs and not ranges:
        return
    conds: list[str] = []
    params: dict[str, Any] = {}
    if seqs:
        conds.append("seq IN :seqs")
        params["seqs"] = sorted(set(seqs))
    for i, (_p, lo, hi) in enumerate(ranges):
        conds.append(f"seq BETWEEN :lo{i} AND :hi{i}")
        params[f"lo{i}"], params[f"hi{i}"] = lo, hi
    stmt = text(
        f"INSERT INTO report_dirty (day) SELECT DISTINCT accepted_at / {DAY_MS} FROM bulletins"
        f" WHERE {' OR '.join(conds)}"
    )
    if seqs:
        stmt = stmt.bindparams(bindparam("seqs", expanding=True))
    conn.execute(stmt, params)


def _runs(days: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted days as runs [first, last] of at most ``_BUILD_CHUNK_DAYS``."""
    out: list[tuple[int, int]] = []
    for d in days:
        if out and d == out[-1][1] + 1 and d - out[-1][0] < _BUILD_CHUNK_DAYS:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _build(conn: Connection, first: int, last: int) -> None:
    """(Re)build the summary rows of days ``first`` to ``last`` from the delivery rows."""
    conn.execute(delete(s.report_days).where(s.report_days.c.day.between(first, last)))
    rows = conn.execute(
        text(
            f"""SELECT b.accepted_at / {DAY_MS} AS day, b.iss, d.party, d.priority, b.groups,
                   b.accepted_at AS acc, d.deadline, d.delivered_at, d.acked_at, d.read_at,
                   d.actioned_at
            FROM bulletins b CROSS JOIN deliveries d
            WHERE d.bid = b.bid AND b.accepted_at >= :lo AND b.accepted_at < :hi"""
        ),
        {"lo": first * DAY_MS, "hi": (last + 1) * DAY_MS},
    ).all()
    if not rows:
        return
    keys: dict[tuple[Any, ...], int] = {}
    kid = np.fromiter(
        (keys.setdefault(tuple(r[:5]), len(keys)) for r in rows), dtype=np.int64, count=len(rows)
    )
    nk = len(keys)
    # times in ms as float64 (exact below 2^53), NaN where there is none
    cols = [
        np.array([np.nan if v is None else v for v in col], dtype=np.float64)
        for col in list(zip(*(r[5:] for r in rows), strict=True))
    ]
    acc, deadline, steps = cols[0], cols[1], cols[2:]

    def count(mask: Any) -> Any:
        return np.bincount(kid[mask], minlength=nk)

    has_dl, acked = ~np.isnan(deadline), ~np.isnan(steps[1])
    open_mask = has_dl & ~acked
    open_max = np.full(nk, -1.0)
    np.maximum.at(open_max, kid[open_mask], deadline[open_mask])
    figures = {
        "deliveries": np.bincount(kid, minlength=nk),
        "delivered": count(~np.isnan(steps[0])),
        "acked": count(acked),
        "n_read": count(~np.isnan(steps[2])),
        "n_act": count(~np.isnan(steps[3])),
        "within": count(has_dl & acked & (steps[1] <= deadline)),
        "acked_dl": count(has_dl & acked),
        "open_dl": count(open_mask),
    }
    coded = []
    for i, at in enumerate(steps):
        m = ~np.isnan(at)
        coded.append(kid[m] * (4 * _NBINS) + bins_of(at[m] - acc[m]) + i * _NBINS)
    uniq, n = np.unique(np.concatenate(coded), return_counts=True)
    owner = uniq // (4 * _NBINS)
    cuts = np.searchsorted(owner, np.arange(nk + 1))
    pairs = np.stack([uniq % (4 * _NBINS), n], axis=1).astype("<u4")
    out = []
    names = ("day", "iss", "party", "priority", "groups")
    for key, k in keys.items():
        row: dict[str, Any] = dict(zip(names, key, strict=True))
        row.update({name: int(v[k]) for name, v in figures.items()})
        row["open_max"] = int(open_max[k]) if open_max[k] >= 0 else None
        row["hist"] = pairs[cuts[k] : cuts[k + 1]].tobytes()
        out.append(row)
    conn.execute(insert(s.report_days), out)


def refresh(conn: Connection, today: int, max_days: int | None = None) -> int:
    """Build the days before ``today`` not built yet and rebuild the marked ones, oldest
    first, at most ``max_days`` of them (a report takes what is built; the rest it
    computes from the delivery rows). The number of days left to build."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
    st = s.report_state
    built = conn.execute(select(st.c.built_until).where(st.c.id == 1)).scalar()
    if built is None:
        first = conn.execute(text("SELECT MIN(accepted_at) FROM bulletins")).scalar()
        built = today if first is None else min(today, int(first) // DAY_MS)
        conn.execute(insert(st).values(id=1, built_until=built))
    marks = conn.execute(select(s.report_dirty.c.id, s.report_dirty.c.day)).all()
    todo = sorted({int(m.day) for m in marks if int(m.day) < built} | set(range(built, today)))
    left = 0
    if max_days is not None and len(todo) > max_days:
        todo, left = todo[:max_days], len(todo) - max_days
    done = set(todo)
    for first, last in _runs(todo):
        _build(conn, first, last)
    # a mark is spent once its day is built (or is not built yet: it will be, from rows)
    spent = [int(m.id) for m in marks if int(m.day) in done or int(m.day) >= built]
    for i in range(0, len(spent), 5_000):
        conn.execute(delete(s.report_dirty).where(s.report_dirty.c.id.in_(spent[i : i + 5_000])))
    new_built = built
    while new_built < today and new_built in done:
        new_built += 1
    if new_built != built:
        conn.execute(st.update().where(st.c.id == 1).values(built_until=new_built))
    return left


def settled(conn: Connection, first: int, end: int, now: int) -> tuple[int, set[int]]:
    """Of the days [first, end): the end of the built ones, and the built days a report
    must still read from delivery rows (marked for rebuilding, or an open deadline in
    them is still to come)."""
    built = conn.execute(select(s.report_state.c.built_until).where(s.report_state.c.id == 1))
    until = max(first, min(end, built.scalar() or first))
    if until == first:
        return until, set()
    span = {"a": first, "b": until}
    dirty = conn.execute(
        text("SELECT DISTINCT day FROM report_dirty WHERE day >= :a AND day < :b"), span
    ).scalars()
    # along the open_max index: the few recent days (DISTINCT would walk the key instead)
    open_days = conn.execute(
        text("SELECT day FROM report_days WHERE open_max >= :now"), {"now": now}
    ).scalars()
    raw = {int(d) for d in dirty} | {int(d) for d in open_days if first <= int(d) < until}
    return until, raw


def _days_sql(first: int, until: int, raw: set[int]) -> str:
    out = f"r.day >= {int(first)} AND r.day < {int(until)}"
    if raw:
        out += f" AND r.day NOT IN ({', '.join(str(int(d)) for d in sorted(raw))})"
    return out


def summary_cells(
    conn: Connection,
    days: tuple[int, int, set[int]],
    where: str,
    params: dict[str, Any],
    period_sql: str,
) -> list[dict[str, Any]]:
    """The cells of store/reports.py (per period, party, priority) of the summarized days
    (``first``, ``until``, days left out) in scope, in one ``GROUP BY``."""
    rows = conn.execute(
        text(
            f"""SELECT {period_sql} AS period, r.party AS party, r.priority AS priority,
                   SUM(r.deliveries) AS deliveries, SUM(r.delivered) AS delivered,
                   SUM(r.acked) AS acknowledged, SUM(r.delivered) AS n_d_del,
                   SUM(r.acked) AS n_d_ack, SUM(r.n_read) AS n_d_read,
                   SUM(r.n_act) AS n_d_act, SUM(r.acked_dl + r.open_dl) AS due,
                   SUM(r.within) AS within, SUM(r.open_dl) AS overdue
            FROM report_days r WHERE {_days_sql(*days)}{where}
            GROUP BY 1, 2, 3"""
        ),
        params,
    ).all()
    return [
        {k: (int(v) if k not in ("party", "priority") else v) for k, v in r._mapping.items()}
        for r in rows
    ]


def summary_hists(
    conn: Connection, days: tuple[int, int, set[int]], where: str, params: dict[str, Any]
) -> dict[tuple[str, str], np.ndarray[Any, Any]]:
    """One histogram per (party, priority) of the four steps (``4 * 1024`` counts) of the
    summarized days in scope."""
    blobs: dict[tuple[str, str], list[bytes]] = {}
    rows = conn.execute(
        text(
            f"SELECT r.party, r.priority, r.hist FROM report_days r WHERE {_days_sql(*days)}{where}"
        ),
        params,
    ).all()  # all at once: a row at a time costs more than the rows' contents
    for party, priority, hist in rows:
        if hist:
            blobs.setdefault((party, priority), []).append(hist)
    hists = {}
    for k, parts in blobs.items():
        pairs = np.frombuffer(b"".join(parts), dtype="<u4").reshape(-1, 2)
        hists[k] = np.bincount(
            pairs[:, 0].astype(np.int64), weights=pairs[:, 1], minlength=4 * _NBINS
        )
    return hists


def add_values(
    hists: dict[tuple[str, str], np.ndarray[Any, Any]],
    party: str,
    priority: str,
    step: int,
    values_ms: Sequence[int],
) -> None:
    """Add times computed from delivery rows to the histograms of the summary rows."""
    if not values_ms:
        return
    h = hists.get((party, priority))
    if h is None:
        h = hists[(party, priority)] = np.zeros(4 * _NBINS)
    codes = bins_of(np.asarray(values_ms, dtype=np.int64)) + step * _NBINS
    h += np.bincount(codes, minlength=4 * _NBINS)


def hist_percentiles(
    hists: dict[tuple[str, str], np.ndarray[Any, Any]], steps: Sequence[str]
) -> list[dict[str, Any]]:
    """Median and 90th percentile per (party, priority, step) from the histograms, by the
    ranks of the exact definitions; each value is its bin's middle (within 1 %)."""
    out = []
    for (party, priority), h in hists.items():
        for i, step in enumerate(steps):
            counts = h[i * _NBINS : (i + 1) * _NBINS]
            n = int(counts.sum() + 0.5)
            if not n:
                continue
            cum = np.cumsum(counts)
            lo, hi, p90 = percentile_ranks(n)

            def at(rank: int, cum: np.ndarray[Any, Any] = cum) -> float:
                return bin_value(int(np.searchsorted(cum, rank - 0.5)))

            out.append(
                {
                    "metric": step,
                    "party": party,
                    "priority": priority,
                    "n": n,
                    "median_ms": round((at(lo) + at(hi)) / 2, 1),
                    "p90_ms": round(at(p90)),
                }
            )
    return out
