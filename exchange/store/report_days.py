# ruff: noqa: S608 - SQL text here interpolates module constants and integers only;
# every value from a request is a bound parameter.
"""Per-day report summaries (issue 14, ADR 0018): a report over a year adds up a few
thousand rows of ``report_days`` instead of sorting a million deliveries.

A summary row holds, per (day of acceptance, sender, recipient, priority, groups), the
counts a report needs and a histogram of each step's time in logarithmic bins 2 % wide
(so a median or 90th percentile taken from it is within 1 % of the exact value). Days
are (re)built from the delivery rows by :func:`refresh_txn`: every day before today once,
and again when ``report_dirty`` names it (a trigger on ``acks`` adds a mark per ack,
:func:`mark_delivered_days_txn` one statement per batch of delivery marks). A report
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
    "mark_days_txn",
    "mark_delivered_days_txn",
    "percentile_ranks",
    "refresh_txn",
    "summary_cells",
    "summary_txn",
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


def mark_days_txn(conn: Connection, days: Iterable[int]) -> None:
    """Mark days for rebuilding (a history written into the past)."""
    rows = [{"day": int(d)} for d in sorted(set(days))]
    if rows:
        conn.execute(insert(s.report_dirty), rows)


def mark_delivered_days_txn(
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
            FROM bulletins b JOIN deliveries d ON d.seq = b.seq
            WHERE b.accepted_at >= :lo AND b.accepted_at < :hi"""
        ),
        {"lo": first * DAY_MS, "hi": (last + 1) * DAY_MS},
    ).all()
    cells: dict[tuple[Any, ...], list[Any]] = {}
    times: dict[tuple[Any, ...], list[list[int]]] = {}
    for r in rows:
        key = (int(r.day), r.iss, r.party, r.priority, r.groups)
        c = cells.get(key)
        if c is None:
            c = cells[key] = [0] * 8 + [None]
            times[key] = [[], [], [], []]
        acc = int(r.acc)
        c[0] += 1
        t = times[key]
        for i, at in enumerate((r.delivered_at, r.acked_at, r.read_at, r.actioned_at)):
            if at is not None:
                c[1 + i] += 1
                t[i].append(int(at) - acc)
        if r.deadline is not None:
            if r.acked_at is not None:
                c[6] += 1
                c[5] += int(r.acked_at) <= int(r.deadline)
            else:
                c[7] += 1
                c[8] = max(c[8] or 0, int(r.deadline))
    out = []
    for key, c in cells.items():
        codes = [
            bins_of(np.asarray(vals, dtype=np.int64)) + i * _NBINS
            for i, vals in enumerate(times[key])
            if vals
        ]
        hist = b""
        if codes:
            u, n = np.unique(np.concatenate(codes), return_counts=True)
            hist = np.stack([u, n], axis=1).astype("<u4").tobytes()
        names = ("deliveries", "delivered", "acked", "n_read", "n_act", "within", "acked_dl")
        row = dict(zip(("day", "iss", "party", "priority", "groups"), key, strict=True))
        row.update(zip(names, c[:7], strict=True))
        row.update(open_dl=c[7], open_max=c[8], hist=hist)
        out.append(row)
    if out:
        conn.execute(insert(s.report_days), out)


def refresh_txn(conn: Connection, today: int, max_days: int | None = None) -> int:
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


def summary_txn(
    conn: Connection, where: str, params: dict[str, Any], first: int, end: int, now: int
) -> tuple[list[Any], set[int]]:
    """The summary rows in scope of the built, settled days in [first, end), and the days
    of that range a report must compute from the delivery rows instead."""
    built = conn.execute(select(s.report_state.c.built_until).where(s.report_state.c.id == 1))
    until = min(end, built.scalar() or first)
    raw = set(range(max(first, until), end))
    if until <= first:
        return [], raw
    dirty = conn.execute(
        text("SELECT DISTINCT day FROM report_dirty WHERE day >= :a AND day < :b"),
        {"a": first, "b": until},
    ).scalars()
    raw |= {int(d) for d in dirty}
    raw |= {
        int(d)
        for d in conn.execute(
            text(
                "SELECT DISTINCT day FROM report_days WHERE day >= :a AND day < :b"
                " AND open_max >= :now"
            ),
            {"a": first, "b": until, "now": now},
        ).scalars()
    }
    rows = conn.execute(
        text(
            f"""SELECT day, party, priority, deliveries, delivered, acked, n_read, n_act,
                   within, acked_dl, open_dl, hist
            FROM report_days r WHERE day >= :a AND day < :b{where}"""
        ),
        {"a": first, "b": until, **params},
    ).all()
    return [r for r in rows if int(r.day) not in raw], raw


def summary_cells(
    rows: Sequence[Any], bounds: Sequence[int]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], np.ndarray[Any, Any]]]:
    """Summary rows as the cells of store/reports.py (per period, party, priority) and
    one histogram per (party, priority) of all four steps (``4 * 1024`` counts)."""
    starts = np.asarray(bounds, dtype=np.int64)
    cells: dict[tuple[int, str, str], dict[str, Any]] = {}
    blobs: dict[tuple[str, str], list[bytes]] = {}
    for r in rows:
        period = int(np.searchsorted(starts, int(r.day) * DAY_MS, side="right")) - 1
        key = (max(period, 0), r.party, r.priority)
        c = cells.get(key)
        if c is None:
            c = cells[key] = {"period": key[0], "party": r.party, "priority": r.priority}
            c.update(dict.fromkeys(_CELL_NAMES, 0))
        acked, open_dl = int(r.acked), int(r.open_dl)
        for name, v in (
            ("deliveries", r.deliveries),
            ("delivered", r.delivered),
            ("acknowledged", acked),
            ("n_d_del", r.delivered),
            ("n_d_ack", acked),
            ("n_d_read", r.n_read),
            ("n_d_act", r.n_act),
            ("due", int(r.acked_dl) + open_dl),
            ("within", r.within),
            ("overdue", open_dl),
        ):
            c[name] += int(v)
        if r.hist:
            blobs.setdefault((r.party, r.priority), []).append(bytes(r.hist))
    hists = {}
    for k, parts in blobs.items():
        pairs = np.frombuffer(b"".join(parts), dtype="<u4").reshape(-1, 2)
        hists[k] = np.bincount(
            pairs[:, 0].astype(np.int64), weights=pairs[:, 1], minlength=4 * _NBINS
        )
    return list(cells.values()), hists


_CELL_NAMES = (
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
