"""The slice of the directory that routing reads: parties, memberships, subscriptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exchange.vocab import meets_min_priority

__all__ = ["DirectoryView", "Subscription"]


@dataclass(frozen=True)
class Subscription:
    """PROTOCOL §1: ``group`` receives what ``source`` sends to ``@subscribers``.

    ``types`` ``None`` matches every type (an empty set matches none);
    ``min_priority`` ``None`` matches every priority.
    """

    group: str
    source: str
    types: frozenset[str] | None
    min_priority: str | None

    def matches(self, type_: str, priority: str) -> bool:
        """Whether a bulletin of this type and priority reaches the group."""
        if self.types is not None and type_ not in self.types:
            return False
        return meets_min_priority(priority, self.min_priority)


@dataclass(frozen=True)
class DirectoryView:
    """What routing needs of the directory at one version; the caller builds it.

    ``members`` maps every existing group, also an empty one, to ``{party: role}`` with
    role ``chair``, ``member`` or ``observer``.
    """

    parties: frozenset[str]
    members: Mapping[str, Mapping[str, str]]
    subscriptions: tuple[Subscription, ...]
