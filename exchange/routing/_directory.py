"""The routing view of a directory document (PROTOCOL §7 ``GET /v1/directory``), the
same conversion for the server's admission and a client's sealing and opening."""

from __future__ import annotations

from typing import Any

from exchange.routing._model import DirectoryView, Subscription

__all__ = ["view_of"]


def view_of(doc: dict[str, Any]) -> tuple[DirectoryView, dict[str, str]]:
    """The routing view and each party's active encryption kid, from a directory document."""
    members = {g["id"]: {m["party"]: m["role"] for m in g["members"]} for g in doc["groups"]}
    subs = tuple(
        Subscription(
            group=g["id"],
            source=sub["source"],
            types=frozenset(sub["types"]) if sub["types"] is not None else None,
            min_priority=sub["min_priority"],
        )
        for g in doc["groups"]
        for sub in g["subscriptions"]
    )
    view = DirectoryView(
        parties=frozenset(p["id"] for p in doc["parties"]), members=members, subscriptions=subs
    )
    active = {k["party"]: k["kid"] for k in doc["encryption_keys"] if k["status"] == "active"}
    return view, active
