"""Last-seen marks and the directory rows of a report (issue 14): reachability and
directory health, apart from the delivery figures of store/reports.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from exchange.store import schema as s

__all__ = ["SeenMark", "directory_rows", "record_seen", "seen_rows"]


@dataclass(frozen=True)
class SeenMark:
    client_id: str
    party: str
    request_at: int
    inbox_at: int | None
    stream_at: int | None


def seen_rows(conn: Connection, parties: Sequence[str] | None) -> list[dict[str, Any]]:
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


def directory_rows(conn: Connection) -> dict[str, list[dict[str, Any]]]:
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


def record_seen(conn: Connection, marks: Sequence[SeenMark]) -> None:
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
