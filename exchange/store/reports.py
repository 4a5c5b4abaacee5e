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

from sqlalchemy import Connection, case, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from exchange.store import schema as s

__all__ = [
    "Scope",
    "SeenMark",
    "bulk_history_txn",
    "directory_rows_txn",
    "figures_txn",
    "history_bulletin",
    "record_seen_txn",
    "seen_rows_txn",
]

_TEMP = "rpt_delivery"


@dataclass(frozen=True)
class Scope:
    """Whose figures: ``kind`` is ``all``, ``group`` or ``party`` (PROTOCOL §7, 1.1)."""

    kind: str
    id: str | None = None


@dataclass(frozen=True)
class SeenMark:
    client_id: str
    party: str
    request_at: int
    inbox_at: int | None
    stream_at: int | None


def _scope_sql(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The WHERE fragment over ``d`` (deliveries) and ``b`` (bulletins) for a scope.

    A group's report holds the bulletins addressed to the group (its id in ``groups``),
    delivered to the group's current members: a party named in ``to`` beside the group
    is not the group's business. A party's report holds what it sent and what it was
    sent. Bulletins to named parties only (TLP:RED has no group) are thus only in the
    sender's and the recipient's reports, and in the operator's."""
    if scope.kind == "group":
        return (
            " AND b.groups LIKE :gpat"
            " AND d.party IN (SELECT m.party FROM memberships m WHERE m.group_id = :gid)",
            {"gpat": "%" + json.dumps(scope.id) + "%", "gid": scope.id},
        )
    if scope.kind == "party":
        return " AND (b.iss = :pid OR d.party = :pid)", {"pid": scope.id}
    return "", {}


def _period_sql(bounds: Sequence[int]) -> str:
    """The index of the trend period holding ``b.accepted_at`` (bounds are ascending
    period starts in ms; literal integers, never user text)."""
    whens = " ".join(f"WHEN b.accepted_at < {int(hi)} THEN {i}" for i, hi in enumerate(bounds[1:]))
    return f"CASE {whens} ELSE {len(bounds) - 1} END" if whens else "0"


def _create_temp(conn: Connection, scope: Scope, lo: int, hi: int, bounds: Sequence[int]) -> None:
    where, params = _scope_sql(scope)
    pg = conn.dialect.name == "postgresql"
    if pg:
        create = f"CREATE TEMP TABLE {_TEMP} ON COMMIT DROP AS"
    else:
        create = f"CREATE TEMP TABLE {_TEMP} AS"
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{_TEMP}"))
    conn.execute(
        text(
            f"""{create}
            SELECT d.party AS party, d.priority AS priority, b.iss AS iss, b.bid AS bid,
                   b.accepted_at AS acc, d.deadline AS deadline,
                   d.delivered_at AS t_del,
                   MIN(a.received_at) AS t_ack,
                   MIN(CASE WHEN a.status IN ('read', 'actioned') THEN a.received_at END)
                       AS t_read,
                   MIN(CASE WHEN a.status = 'actioned' THEN a.received_at END) AS t_act,
                   {_period_sql(bounds)} AS period
            FROM bulletins b
            JOIN deliveries d ON d.seq = b.seq
            LEFT JOIN acks a ON a.bid = d.bid AND a.party = d.party
            WHERE b.accepted_at >= :lo AND b.accepted_at < :hi{where}
            GROUP BY d.party, d.seq, d.priority, b.iss, b.bid, b.accepted_at, d.deadline,
                     d.delivered_at"""
        ),
        {"lo": lo, "hi": hi, **params},
    )


# (metric, first key, second key, the value in ms): what the percentiles are taken of.
_SERIES = (
    ("delivered", "party", "priority", "t_del"),
    ("received", "party", "priority", "t_ack"),
    ("read", "party", "priority", "t_read"),
    ("actioned", "party", "priority", "t_act"),
    ("delivered", "party", "'*'", "t_del"),
    ("received", "party", "'*'", "t_ack"),
    ("read", "party", "'*'", "t_read"),
    ("actioned", "party", "'*'", "t_act"),
    ("received", "CAST(period AS VARCHAR(8))", "'*'", "t_ack"),
)


def _percentiles(conn: Connection) -> list[dict[str, Any]]:
    """Median (mean of the two middle ranks when even) and 90th percentile (nearest
    rank, ceil(0.9 n)) of each series, per key, in ms."""
    union = " UNION ALL ".join(
        f"SELECT '{m}' AS m, {k1} AS k1, {k2} AS k2, {col} - acc AS v"
        f" FROM {_TEMP} WHERE {col} IS NOT NULL"
        for m, k1, k2, col in _SERIES
    )
    rows = conn.execute(
        text(
            f"""WITH v AS ({union}),
            r AS (SELECT m, k1, k2, v,
                         ROW_NUMBER() OVER (PARTITION BY m, k1, k2 ORDER BY v) AS rn,
                         COUNT(*) OVER (PARTITION BY m, k1, k2) AS n
                  FROM v)
            SELECT m, k1, k2, MAX(n) AS n,
                   SUM(CASE WHEN rn = (n + 1) / 2 THEN v ELSE 0 END)
                     + SUM(CASE WHEN rn = (n + 2) / 2 THEN v ELSE 0 END) AS mid2,
                   MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END) AS p90
            FROM r
            WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 OR rn = (9 * n + 9) / 10
            GROUP BY m, k1, k2"""
        )
    ).all()
    return [
        {
            "metric": r.m,
            "k1": str(r.k1),
            "k2": r.k2,
            "n": int(r.n),
            "median_ms": int(r.mid2) / 2,
            "p90_ms": int(r.p90),
        }
        for r in rows
    ]


def _counts(conn: Connection, now: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"""SELECT party, priority, COUNT(*) AS deliveries, COUNT(t_del) AS delivered,
                   COUNT(t_ack) AS acknowledged,
                   SUM(CASE WHEN deadline IS NOT NULL AND (t_ack IS NOT NULL OR deadline < :now)
                       THEN 1 ELSE 0 END) AS due,
                   SUM(CASE WHEN t_ack IS NOT NULL AND t_ack <= deadline THEN 1 ELSE 0 END)
                       AS within,
                   SUM(CASE WHEN t_ack IS NULL AND deadline < :now THEN 1 ELSE 0 END)
                       AS overdue
            FROM {_TEMP} GROUP BY party, priority"""
        ),
        {"now": now},
    ).all()
    return [dict(r._mapping) for r in rows]


def _trend(conn: Connection, now: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"""SELECT period, party, COUNT(*) AS deliveries, COUNT(t_ack) AS acknowledged,
                   SUM(CASE WHEN deadline IS NOT NULL AND (t_ack IS NOT NULL OR deadline < :now)
                       THEN 1 ELSE 0 END) AS due,
                   SUM(CASE WHEN t_ack IS NOT NULL AND t_ack <= deadline THEN 1 ELSE 0 END)
                       AS within
            FROM {_TEMP} GROUP BY period, party"""
        ),
        {"now": now},
    ).all()
    return [dict(r._mapping) for r in rows]


def _overdue(conn: Connection, now: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    total = conn.execute(
        text(f"SELECT COUNT(*) FROM {_TEMP} WHERE t_ack IS NULL AND deadline < :now"),
        {"now": now},
    ).scalar_one()
    rows = conn.execute(
        text(
            f"""SELECT bid, iss, party, priority, acc, deadline FROM {_TEMP}
            WHERE t_ack IS NULL AND deadline < :now
            ORDER BY deadline, bid, party LIMIT :limit"""
        ),
        {"now": now, "limit": limit},
    ).all()
    return int(total), [dict(r._mapping) for r in rows]


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


def figures_txn(
    conn: Connection,
    scope: Scope,
    lo: int,
    hi: int,
    now: int,
    bounds: Sequence[int],
    overdue_limit: int,
) -> dict[str, Any]:
    """Every delivery figure of a report, in one read transaction."""
    _create_temp(conn, scope, lo, hi, bounds)
    try:
        total, overdue = _overdue(conn, now, overdue_limit)
        return {
            "posted": _posted(conn, scope, lo, hi),
            "counts": _counts(conn, now),
            "percentiles": _percentiles(conn),
            "trend": _trend(conn, now),
            "overdue_total": total,
            "overdue": overdue,
        }
    finally:
        if conn.dialect.name != "postgresql":
            conn.execute(text(f"DROP TABLE IF EXISTS temp.{_TEMP}"))


def seen_rows_txn(conn: Connection, parties: Sequence[str] | None) -> list[dict[str, Any]]:
    """Per party: the last request, inbox pull and live stream of any of its clients."""
    q = text(
        "SELECT party, MAX(request_at) AS request_at, MAX(inbox_at) AS inbox_at,"
        " MAX(stream_at) AS stream_at FROM last_seen GROUP BY party"
    )
    rows = [dict(r._mapping) for r in conn.execute(q).all()]
    if parties is not None:
        wanted = set(parties)
        rows = [r for r in rows if r["party"] in wanted]
    return rows


def directory_rows_txn(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Parties, memberships, encryption keys and clients (with when each client was last
    seen): what directory health is judged from."""
    return {
        "parties": [
            dict(r._mapping)
            for r in conn.execute(text("SELECT id, name, kind FROM parties ORDER BY id")).all()
        ],
        "groups": [dict(r._mapping) for r in conn.execute(text("SELECT id FROM groups")).all()],
        "memberships": [
            dict(r._mapping)
            for r in conn.execute(text("SELECT group_id, party, role FROM memberships")).all()
        ],
        "enc_keys": [
            dict(r._mapping)
            for r in conn.execute(
                text("SELECT kid, party, status, created_at FROM enc_keys ORDER BY created_at")
            ).all()
        ],
        "clients": [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT c.id AS id, c.party AS party, c.kid AS kid, c.status AS status,"
                    " c.created_at AS created_at, l.request_at AS request_at"
                    " FROM clients c LEFT JOIN last_seen l ON l.client_id = c.id ORDER BY c.id"
                )
            ).all()
        ],
    }


def record_seen_txn(conn: Connection, marks: Sequence[SeenMark]) -> None:
    """Upsert last-seen times; a time only moves forward (several nodes may write)."""
    if not marks:
        return
    t = s.last_seen
    ins = pg_insert(t) if conn.dialect.name == "postgresql" else sqlite_insert(t)
    excluded = ins.excluded

    def newest(col: str) -> Any:
        old, new = t.c[col], excluded[col]
        return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)

    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.client_id],
        set_={c: newest(c) for c in ("request_at", "inbox_at", "stream_at")},
    )
    conn.execute(
        stmt,
        [
            {
                "client_id": m.client_id,
                "party": m.party,
                "request_at": m.request_at,
                "inbox_at": m.inbox_at,
                "stream_at": m.stream_at,
            }
            for m in marks
        ],
    )


def bulk_history_txn(
    conn: Connection,
    bulletins: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
    acks: Sequence[dict[str, Any]],
) -> None:
    """Insert a made-up history in three executemany statements (bench/history.py and
    report tests only: the rows are not in the audit log and hold no envelope)."""
    if bulletins:
        conn.execute(insert(s.bulletins), list(bulletins))
    if deliveries:
        conn.execute(insert(s.deliveries), list(deliveries))
    if acks:
        conn.execute(insert(s.acks), list(acks))


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
