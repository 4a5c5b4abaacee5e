"""The routing view of the directory, cached per directory version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from exchange.routing import DirectoryView, view_of
from exchange.store import directory as dir_store

__all__ = ["RoutingState", "ViewCache"]


@dataclass(frozen=True)
class RoutingState:
    version: int
    view: DirectoryView
    active_kid: dict[str, str]  # party -> its active encryption kid


def build_state(doc: dict[str, Any]) -> RoutingState:
    view, active = view_of(doc)
    return RoutingState(int(doc["version"]), view, active)


class ViewCache:
    """Reads the version (one cheap query) and rebuilds only when it moved."""

    def __init__(self) -> None:
        self._state: RoutingState | None = None

    def get_txn(self, conn: Connection) -> RoutingState:
        """The routing state as of ``conn``'s transaction (called from the writer thread
        too: replacing the cached state is one assignment)."""
        version = dir_store.current_version(conn)
        state = self._state
        if state is None or state.version != version:
            state = self._state = build_state(dir_store.load_all(conn))
        return state
