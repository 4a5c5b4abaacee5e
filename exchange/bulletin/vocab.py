"""The closed vocabularies and identifier syntax of PROTOCOL §1 and §4.

One place for every enumerated value, so that the JSON Schema files, the routing code
and the tools agree; ``tests/bulletin/test_vocab.py`` checks the schemas against it.
"""

from __future__ import annotations

import re
from typing import Final

from exchange.errors import InputError

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

#: PROTOCOL §4: bulletin types; each has its own ``body`` schema.
TYPES: Final = (
    "threat-assessment",
    "security-measure",
    "advisory",
    "request",
    "revocation",
)

#: PROTOCOL §4: most urgent first (AFTN SS, DD, FF, GG).
PRIORITIES: Final = ("flash", "immediate", "priority", "routine")

#: The AFTN priority indicator each priority corresponds to, for operators used to it.
AFTN_PRIORITY: Final = {"flash": "SS", "immediate": "DD", "priority": "FF", "routine": "GG"}

#: PROTOCOL §4: Traffic Light Protocol 2.0 labels, least restrictive first.
TLPS: Final = ("clear", "green", "amber", "amber+strict", "red")

#: PROTOCOL §4: threat levels, lowest first.
THREAT_LEVELS: Final = ("low", "moderate", "substantial", "severe", "critical")

#: Threat categories of a threat assessment (PROTOCOL §4 names the first five).
CATEGORIES: Final = (
    "manpads",  # man-portable air-defence systems
    "ied",  # improvised explosive devices, including in cargo and mail
    "insider",
    "cyber",
    "uas",  # unmanned aircraft systems (drones)
    "hijack",
    "sabotage",
    "armed-attack",  # landside or airside attack with firearms or vehicles
    "cbrn",  # chemical, biological, radiological, nuclear
    "laser",  # laser illumination of aircraft
    "gnss-interference",  # jamming or spoofing
    "conflict-zone",  # risk to overflight from armed conflict
    "unruly-passenger",
    "other",
)

#: Schema 1.1: the five-step scale of the ICAO risk method (likelihood, consequence,
#: residual vulnerability, residual risk), lowest first.
RISK_RATINGS: Final = ("very-low", "low", "medium", "high", "very-high")

#: Schema 1.1: the types that may answer another bulletin (``in_reply_to``).
REPLY_TYPES: Final = ("request", "advisory")

#: PROTOCOL §5: the pseudo-group naming every group subscribed to the sender.
SUBSCRIBERS: Final = "@subscribers"

#: PROTOCOL §1: group member roles. Chairs and members post; observers only receive.
ROLES: Final = ("chair", "member", "observer")
POSTING_ROLES: Final = frozenset({"chair", "member"})

# ``\Z`` and not ``$``: Python's ``$`` also matches before a trailing newline.
#: PROTOCOL §1: a party id (States use ISO 3166-1 alpha-2).
PARTY_ID_RE: Final = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}\Z")
#: PROTOCOL §1: a group id.
GROUP_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}\Z")
#: PROTOCOL §1: a client id ``PARTY/name``. The name part is our choice: lower case (it
#: names a folder, ``keys/<PARTY>/<name>/``, also on case-insensitive file systems).
CLIENT_ID_RE: Final = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}/[a-z0-9][a-z0-9._-]{0,63}\Z")
#: ICAO location indicator (Doc 7910): an aerodrome or an FIR, e.g. ``UAAA``.
ICAO_LOCATION_RE: Final = re.compile(r"^[A-Z]{4}\Z")

_RANK: Final = {p: i for i, p in enumerate(PRIORITIES)}


def priority_rank(priority: str) -> int:
    """0 for ``flash`` (most urgent) up to 3 for ``routine``: sort keys and comparisons."""
    try:
        return _RANK[priority]
    except (KeyError, TypeError):
        raise InputError(f"priority: must be one of {', '.join(PRIORITIES)}") from None


def meets_min_priority(priority: str, min_priority: str | None) -> bool:
    """Whether ``priority`` is at least as urgent as ``min_priority`` (``None``: any)."""
    if min_priority is None:
        return True
    return priority_rank(priority) <= priority_rank(min_priority)
