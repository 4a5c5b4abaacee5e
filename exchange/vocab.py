"""The protocol's vocabulary, written once: closed lists, identifier syntax, and the
numbers PROTOCOL names (clock skew, lifetimes, recipient limit).

Pure (``re`` and the error tree only), so that every layer may import it: the crypto
core, the server, the SDK, the CLI and the console. ``tests/bulletin/test_vocab.py``
checks the JSON Schema files against it, ``tests/test_defined_once.py`` that no other
module writes these values again.
"""

from __future__ import annotations

import re
from typing import Final

from exchange.errors import InputError

__all__ = [
    "ACK_STATUSES",
    "AFTN_PRIORITY",
    "BID_RE",
    "CATEGORIES",
    "CLIENT_ID_RE",
    "CLIENT_ROLES",
    "CLOCK_SKEW",
    "FUTURE_IAT",
    "GROUP_ID_RE",
    "GROUP_ROLES",
    "ICAO_LOCATION_RE",
    "KID_RE",
    "MAX_BODY",
    "MAX_HEADER",
    "MAX_RECIPIENTS",
    "PARTY_ID_RE",
    "PARTY_KINDS",
    "PAST_IAT",
    "POSTING_ROLES",
    "PRIORITIES",
    "REPLY_TYPES",
    "RISK_RATINGS",
    "SUBSCRIBERS",
    "THREAT_LEVELS",
    "TLPS",
    "TOKEN_LIFETIME",
    "TYPES",
    "UUID_RE",
    "iat_problem",
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
GROUP_ROLES: Final = ("chair", "member", "observer")
POSTING_ROLES: Final = frozenset({"chair", "member"})

#: PROTOCOL §1: the kinds of party (a State, an international organisation, a feed).
PARTY_KINDS: Final = ("state", "organization", "feed")

#: PROTOCOL §6: the roles a client key may hold.
CLIENT_ROLES: Final = ("poster", "reader", "admin")

#: PROTOCOL §7: ack statuses, in order: each later one implies the earlier ones.
ACK_STATUSES: Final = ("received", "read", "actioned")

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
#: PROTOCOL §2: a kid is a base64url thumbprint; anything else is refused before the
#: database sees it (PostgreSQL cannot even compare a string holding NUL).
KID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
#: A UUID in the lower-case canonical form (ids of alert endpoints, ...).
UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
#: PROTOCOL §4: a bid is a UUID; admission takes the lower-case canonical form only.
BID_RE: Final = UUID_RE

# --- time and size: the protocol's numbers, the defaults of ``config.Limits`` ----------
# Every layer takes its limit as an argument (a server passes its ``Limits``); these are
# the values PROTOCOL names, written once.

#: PROTOCOL §6: a request token's clock skew, either way, in seconds.
CLOCK_SKEW: Final = 60
#: PROTOCOL §6: a request token's ``exp - iat`` at most, in seconds.
TOKEN_LIFETIME: Final = 300
#: PROTOCOL §5: a bulletin's ``iat`` at most this far in the future, in seconds.
FUTURE_IAT: Final = 300
#: Issue 17: a new bulletin dated further back than this is refused, in seconds.
PAST_IAT: Final = 24 * 60 * 60
#: Recipients of one envelope at most (the JWE ``recipients`` array).
MAX_RECIPIENTS: Final = 500
#: PROTOCOL §7: a request body (an envelope) at most, in bytes; 413 beyond.
MAX_BODY: Final = 2 * 1024 * 1024
#: A JOSE protected header or a request token at most, in bytes.
MAX_HEADER: Final = 8 * 1024

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


def iat_problem(iat: int, now: int, *, future: int, past: int | None = None) -> str | None:
    """The one time check of a signed ``iat`` (a bulletin's, an ack's, a token's): at
    most ``future`` seconds ahead of ``now`` and, with ``past``, at most that far behind.
    ``None`` if it passes, else what is wrong; each layer names the field and raises its
    own error, with the limit its caller passed (a server passes its ``Limits``)."""
    if iat > now + future:
        return f"more than {future} s in the future"
    if past is not None and iat < now - past:
        return f"more than {past} s in the past"
    return None
