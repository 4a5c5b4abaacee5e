"""Moved to :mod:`exchange.vocab` (issue 19: one vocabulary for every layer, the crypto
core included). This name stays so that older imports keep working; import from
``exchange.vocab`` in new code."""

from __future__ import annotations

from exchange.vocab import (
    AFTN_PRIORITY,
    CATEGORIES,
    CLIENT_ID_RE,
    GROUP_ID_RE,
    ICAO_LOCATION_RE,
    PARTY_ID_RE,
    POSTING_ROLES,
    PRIORITIES,
    REPLY_TYPES,
    RISK_RATINGS,
    SUBSCRIBERS,
    THREAT_LEVELS,
    TLPS,
    TYPES,
    meets_min_priority,
    priority_rank,
)
from exchange.vocab import GROUP_ROLES as ROLES

__all__ = [
    "AFTN_PRIORITY",
    "CATEGORIES",
    "CLIENT_ID_RE",
    "GROUP_ID_RE",
    "ICAO_LOCATION_RE",
    "PARTY_ID_RE",
    "POSTING_ROLES",
    "PRIORITIES",
    "REPLY_TYPES",
    "RISK_RATINGS",
    "ROLES",
    "SUBSCRIBERS",
    "THREAT_LEVELS",
    "TLPS",
    "TYPES",
    "meets_min_priority",
    "priority_rank",
]
