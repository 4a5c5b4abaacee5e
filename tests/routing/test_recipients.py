"""Table-driven tests of every routing rule of PROTOCOL §5, on the Central Asia/Caucasus
group and its neighbours."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.errors import ExchangeError, Forbidden, InputError
from exchange.routing import DirectoryView, Subscription, audience, recipients

CAC = frozenset({"AZ", "GE", "KG", "KZ", "TJ", "UZ", "ICAO"})
CASP = frozenset({"AZ", "KZ", "TM", "TR"})
EURNAT = frozenset({"FR", "GE", "TR", "UZ"})

VIEW = DirectoryView(
    parties=frozenset(
        {"AZ", "GE", "KG", "KZ", "TJ", "UZ", "ICAO", "TM", "TR", "FR", "TA-FEED", "EASA"}
    ),
    members={
        "cac-avsec": {
            "KZ": "chair",
            "AZ": "member",
            "GE": "member",
            "KG": "member",
            "TJ": "member",
            "UZ": "member",
            "ICAO": "observer",
        },
        "casp-mid": {"AZ": "chair", "KZ": "member", "TM": "member", "TR": "observer"},
        "eurnat-avsec": {"FR": "chair", "GE": "member", "TR": "member", "UZ": "observer"},
        "kz-internal": {"KZ": "chair"},
        "dormant": {},
    },
    subscriptions=(
        # the threat-assessment feed: cac-avsec takes urgent threat assessments only,
        # casp-mid everything immediate or more urgent, dormant (no members) everything
        Subscription("cac-avsec", "TA-FEED", frozenset({"threat-assessment"}), "priority"),
        Subscription("casp-mid", "TA-FEED", None, "immediate"),
        Subscription("dormant", "TA-FEED", None, None),
        Subscription("cac-avsec", "ICAO", None, None),
        Subscription("eurnat-avsec", "ICAO", frozenset({"advisory", "security-measure"}), None),
        Subscription("casp-mid", "KZ", None, None),
        Subscription("eurnat-avsec", "EASA", frozenset(), None),  # matches nothing
        Subscription("deleted-group", "TA-FEED", None, None),  # the group is gone
    ),
)


def meta(**fields: Any) -> dict[str, Any]:
    """Routing metadata with the given fields over a KZ amber routine advisory."""
    base: dict[str, Any] = {
        "v": 1,
        "bid": "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40",
        "iss": "KZ",
        "groups": [],
        "to": [],
        "type": "advisory",
        "priority": "routine",
        "tlp": "amber",
        "iat": 1_790_000_000,
        "exp": None,
        "supersedes": None,
    }
    base.update(fields)
    return base


def s(*parties: str) -> frozenset[str]:
    return frozenset(parties)


# (case id, sender, metadata fields, expected recipients)
ROUTED: list[tuple[str, str, dict[str, Any], frozenset[str]]] = [
    ("chair posts to its group", "KZ", {"groups": ["cac-avsec"]}, CAC - {"KZ"}),
    ("member posts to its group", "UZ", {"groups": ["cac-avsec"]}, CAC - {"UZ"}),
    ("observers receive amber", "GE", {"groups": ["cac-avsec"]}, CAC - {"GE"}),
    (
        "two groups, a State in both once",
        "KZ",
        {"groups": ["cac-avsec", "casp-mid"]},
        (CAC | CASP) - {"KZ"},
    ),
    (
        "group plus named parties",
        "KZ",
        {"groups": ["casp-mid"], "to": ["FR", "ICAO"]},
        (CASP | {"FR", "ICAO"}) - {"KZ"},
    ),
    ("named parties only", "KZ", {"to": ["UZ", "KG"]}, s("UZ", "KG")),
    ("sender in to is dropped", "KZ", {"to": ["KZ", "UZ"]}, s("UZ")),
    (
        "red to named parties",
        "KZ",
        {"tlp": "red", "to": ["UZ", "KG", "ICAO"]},
        s("UZ", "KG", "ICAO"),
    ),
    ("clear to a group", "GE", {"tlp": "clear", "groups": ["eurnat-avsec"]}, EURNAT - {"GE"}),
    ("green to a group", "GE", {"tlp": "green", "groups": ["eurnat-avsec"]}, EURNAT - {"GE"}),
    (
        "amber+strict leaves observers out",
        "KZ",
        {"tlp": "amber+strict", "groups": ["cac-avsec"]},
        CAC - {"KZ", "ICAO"},
    ),
    (
        "amber+strict to a party that observes no group it reaches",
        "KZ",
        {"tlp": "amber+strict", "groups": [], "to": ["ICAO"]},
        s("ICAO"),
    ),
    (
        "amber+strict: observer here, member there",
        "GE",
        {"tlp": "amber+strict", "groups": ["cac-avsec", "eurnat-avsec"]},
        (CAC | EURNAT) - {"GE", "ICAO"},
    ),
    (
        "amber+strict: observer only",
        "GE",
        {"tlp": "amber+strict", "groups": ["eurnat-avsec"]},
        s("FR", "TR"),
    ),
    ("same group twice", "KZ", {"groups": ["cac-avsec", "cac-avsec"]}, CAC - {"KZ"}),
    # @subscribers
    (
        "feed: flash threat assessment reaches both subscribed groups",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "flash",
        },
        CAC | CASP,
    ),
    (
        "feed: immediate threat assessment",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "immediate",
        },
        CAC | CASP,
    ),
    (
        "feed: priority threat assessment: only cac-avsec's filter",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "priority",
        },
        CAC,
    ),
    (
        "feed: flash advisory: cac-avsec filters the type",
        "TA-FEED",
        {"iss": "TA-FEED", "groups": ["@subscribers"], "type": "advisory", "priority": "flash"},
        CASP,
    ),
    (
        "feed: amber+strict leaves subscribed observers out",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "flash",
            "tlp": "amber+strict",
        },
        (CAC | CASP) - {"ICAO", "TR"},
    ),
    (
        "feed: subscribers and a named party",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "to": ["FR"],
            "type": "request",
            "priority": "routine",
        },
        s("FR"),
    ),
    (
        "ICAO observer posts to its subscribers",
        "ICAO",
        {"iss": "ICAO", "groups": ["@subscribers"], "type": "advisory"},
        (CAC | EURNAT) - {"ICAO"},
    ),
    (
        "ICAO request: eurnat-avsec filters the type",
        "ICAO",
        {"iss": "ICAO", "groups": ["@subscribers"], "type": "request"},
        CAC - {"ICAO"},
    ),
    (
        "State with subscribers and its own group",
        "KZ",
        {"groups": ["cac-avsec", "@subscribers"]},
        (CAC | CASP) - {"KZ"},
    ),
    (
        "subscribers first in the list",
        "KZ",
        {"groups": ["@subscribers", "kz-internal"]},
        CASP - {"KZ"},
    ),
]


@pytest.mark.parametrize(
    ("sender", "fields", "expected"), [c[1:] for c in ROUTED], ids=[c[0] for c in ROUTED]
)
def test_routed(sender: str, fields: dict[str, Any], expected: frozenset[str]) -> None:
    m = meta(**{"iss": sender, **fields})
    assert recipients(m, sender, VIEW) == expected
    assert audience(m, sender, VIEW) == expected


# (case id, sender, metadata fields, error class, message)
REFUSED: list[tuple[str, str, dict[str, Any], type[ExchangeError], str]] = [
    (  # issue 17: an observer cannot be brought back into amber+strict through to
        "amber+strict names an observer of a named group in to",
        "KZ",
        {"tlp": "amber+strict", "groups": ["cac-avsec"], "to": ["UZ", "ICAO"]},
        InputError,
        "to[1]: ICAO is an observer of cac-avsec; an amber+strict bulletin is not delivered",
    ),
    (
        "amber+strict names an observer of a subscribed group in to",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "flash",
            "tlp": "amber+strict",
            "to": ["TR"],
        },
        InputError,
        "to[0]: TR is an observer of casp-mid",
    ),
    (
        "observer cannot post",
        "ICAO",
        {"iss": "ICAO", "groups": ["cac-avsec"]},
        Forbidden,
        "groups[0]: ICAO is an observer of cac-avsec; observers cannot post",
    ),
    (
        "non-member cannot post",
        "TR",
        {"iss": "TR", "groups": ["cac-avsec"]},
        Forbidden,
        "groups[0]: TR is not a member of cac-avsec",
    ),
    (
        "member of one, not the other",
        "UZ",
        {"iss": "UZ", "groups": ["cac-avsec", "casp-mid"]},
        Forbidden,
        "groups[1]: UZ is not a member of casp-mid",
    ),
    (
        "observer of the second group",
        "UZ",
        {"iss": "UZ", "groups": ["cac-avsec", "eurnat-avsec"]},
        Forbidden,
        "groups[1]: UZ is an observer of eurnat-avsec",
    ),
    (
        "a feed is no member of a group",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["cac-avsec", "@subscribers"],
            "type": "threat-assessment",
            "priority": "flash",
        },
        Forbidden,
        "groups[0]: TA-FEED is not a member of cac-avsec",
    ),
    (
        "iss is another party",
        "UZ",
        {"iss": "KZ", "groups": ["cac-avsec"]},
        Forbidden,
        "iss: the sender's party is UZ, not KZ",
    ),
    (
        "unknown group",
        "KZ",
        {"groups": ["cac-avsec", "casp-avsec"]},
        InputError,
        "groups[1]: unknown group casp-avsec",
    ),
    ("unknown party", "KZ", {"to": ["UZ", "XX"]}, InputError, "to[1]: unknown party XX"),
    ("unknown sender", "XX", {"iss": "XX", "to": ["UZ"]}, InputError, "iss: unknown party XX"),
    (
        "bad request before rights",
        "TR",
        {"iss": "TR", "groups": ["cac-avsec"], "to": ["XX"]},
        InputError,
        "to[0]: unknown party XX",
    ),
    (
        "red with a group",
        "KZ",
        {"tlp": "red", "groups": ["cac-avsec"]},
        InputError,
        "groups: must be empty when tlp is red",
    ),
    (
        "red to subscribers",
        "KZ",
        {"tlp": "red", "groups": ["@subscribers"], "to": ["UZ"]},
        InputError,
        "groups: must be empty when tlp is red",
    ),
    ("sender only: its own group", "KZ", {"groups": ["kz-internal"]}, InputError, "no recipients"),
    ("sender only: itself in to", "KZ", {"to": ["KZ"]}, InputError, "no recipients"),
    ("nothing at all", "KZ", {}, InputError, "no recipients"),
    (
        "an empty group",
        "KZ",
        {"groups": ["dormant"]},
        Forbidden,
        "groups[0]: KZ is not a member of dormant",
    ),
    (
        "subscribers, none match",
        "TA-FEED",
        {
            "iss": "TA-FEED",
            "groups": ["@subscribers"],
            "type": "threat-assessment",
            "priority": "routine",
        },
        InputError,
        "no recipients",
    ),
    (
        "subscribers, no subscription",
        "TJ",
        {"iss": "TJ", "groups": ["@subscribers"]},
        InputError,
        "no recipients",
    ),
    (
        "subscribers, empty type filter",
        "EASA",
        {"iss": "EASA", "groups": ["@subscribers"], "type": "advisory", "priority": "flash"},
        InputError,
        "no recipients",
    ),
    (
        "amber+strict, observers only",
        "KZ",
        {"tlp": "amber+strict", "groups": ["kz-internal"], "to": []},
        InputError,
        "no recipients",
    ),
    (
        "unknown tlp",
        "KZ",
        {"tlp": "white", "to": ["UZ"]},
        InputError,
        "tlp: must be one of clear, green, amber, amber+strict, red",
    ),
    (
        "groups not a list",
        "KZ",
        {"groups": "cac-avsec"},
        InputError,
        "groups: must be a list of ids",
    ),
    ("to holds a number", "KZ", {"to": [7]}, InputError, "to: must be a list of ids"),
    (
        "subscribers with an unknown type",
        "KZ",
        {"groups": ["@subscribers"], "type": "notice"},
        InputError,
        "type: must be one of",
    ),
    (
        "subscribers with an unknown priority",
        "KZ",
        {"groups": ["@subscribers"], "priority": "SS"},
        InputError,
        "priority: must be one of",
    ),
]


@pytest.mark.parametrize(
    ("sender", "fields", "error", "message"),
    [c[1:] for c in REFUSED],
    ids=[c[0] for c in REFUSED],
)
def test_refused(
    sender: str, fields: dict[str, Any], error: type[ExchangeError], message: str
) -> None:
    with pytest.raises(error) as caught:
        recipients(meta(**{"iss": sender, **fields}), sender, VIEW)
    assert type(caught.value) is error
    assert caught.value.detail.startswith(message), caught.value.detail


def test_observer_amber_strict_with_only_observers_left() -> None:
    view = DirectoryView(
        parties=frozenset({"KZ", "ICAO"}),
        members={"g1": {"KZ": "chair", "ICAO": "observer"}},
        subscriptions=(),
    )
    with pytest.raises(InputError, match=r"^no recipients"):
        recipients(meta(tlp="amber+strict", groups=["g1"]), "KZ", view)
    assert recipients(meta(tlp="amber", groups=["g1"]), "KZ", view) == s("ICAO")


def test_dangling_membership_and_unknown_role_are_ignored() -> None:
    """A member that is no longer a party, or has a role we do not know, gets nothing and
    (for the sender) may post nothing: fail closed on an inconsistent view."""
    view = DirectoryView(
        parties=frozenset({"KZ", "UZ", "KG"}),
        members={"g1": {"KZ": "chair", "UZ": "member", "GONE": "member", "KG": "guest"}},
        subscriptions=(),
    )
    assert recipients(meta(groups=["g1"]), "KZ", view) == s("UZ")
    with pytest.raises(Forbidden, match=r"^groups\[0\]: KG is not a member of g1"):
        recipients(meta(iss="KG", groups=["g1"]), "KG", view)


def test_iss_defaults_to_the_sender() -> None:
    m = meta(groups=["cac-avsec"])
    del m["iss"]
    assert recipients(m, "KZ", VIEW) == CAC - {"KZ"}


def test_minimal_metadata_is_enough() -> None:
    """Routing reads groups, to, tlp (and type, priority with @subscribers) only."""
    assert recipients({"tlp": "amber", "to": ["UZ"]}, "KZ", VIEW) == s("UZ")
    assert recipients({"tlp": "green", "groups": ("cac-avsec",)}, "KZ", VIEW) == CAC - {"KZ"}


# --- audience: a reader's view of a bulletin already admitted ---------------------------


def test_audience_ignores_rights_changed_since() -> None:
    """KZ posted to casp-mid when it was a member; it has since been removed."""
    later = DirectoryView(
        parties=VIEW.parties,
        members={**VIEW.members, "casp-mid": {"AZ": "chair", "TM": "member", "TR": "observer"}},
        subscriptions=VIEW.subscriptions,
    )
    m = meta(groups=["casp-mid"])
    with pytest.raises(Forbidden):
        recipients(m, "KZ", later)
    assert audience(m, "KZ", later) == s("AZ", "TM", "TR")


def test_audience_skips_what_no_longer_exists_and_may_be_empty() -> None:
    later = DirectoryView(
        parties=frozenset({"KZ", "UZ"}), members={"kz-internal": {"KZ": "chair"}}, subscriptions=()
    )
    assert audience(meta(groups=["cac-avsec"], to=["UZ", "KG"]), "KZ", later) == s("UZ")
    assert audience(meta(groups=["kz-internal"]), "KZ", later) == frozenset()
    assert audience(meta(iss="GONE", to=["UZ"]), "GONE", later) == s("UZ")


def test_audience_still_refuses_what_no_server_may_admit() -> None:
    with pytest.raises(InputError, match=r"^groups: must be empty when tlp is red"):
        audience(meta(tlp="red", groups=["cac-avsec"]), "KZ", VIEW)
    with pytest.raises(InputError, match=r"^tlp: "):
        audience(meta(tlp=None), "KZ", VIEW)


# --- Subscription.matches ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "min_priority", "type_", "priority", "expected"),
    [
        (None, None, "advisory", "routine", True),
        (None, "flash", "advisory", "flash", True),
        (None, "flash", "advisory", "immediate", False),
        (None, "priority", "request", "immediate", True),
        (None, "priority", "request", "routine", False),
        (frozenset({"advisory"}), None, "advisory", "routine", True),
        (frozenset({"advisory"}), None, "threat-assessment", "flash", False),
        (frozenset({"advisory", "revocation"}), "immediate", "revocation", "immediate", True),
        (frozenset({"advisory", "revocation"}), "immediate", "revocation", "priority", False),
        (frozenset(), None, "advisory", "flash", False),
    ],
)
def test_subscription_matches(
    types: frozenset[str] | None,
    min_priority: str | None,
    type_: str,
    priority: str,
    expected: bool,
) -> None:
    assert Subscription("g", "KZ", types, min_priority).matches(type_, priority) is expected


def test_large_group_is_fast() -> None:
    """Admission runs this on every bulletin: linear in the members involved."""
    import time

    parties = frozenset({f"P{i:05d}" for i in range(50_000)} | {"KZ"})
    members = {f"g{i}": {p: "member" for p in list(parties)[i::10]} for i in range(10)}
    members["g0"]["KZ"] = "chair"
    subs = tuple(Subscription(f"g{i % 10}", f"S{i}", None, None) for i in range(5_000))
    view = DirectoryView(parties=parties, members=members, subscriptions=subs)
    start = time.perf_counter()
    out = recipients(meta(groups=["g0", "@subscribers"], tlp="amber+strict"), "KZ", view)
    assert time.perf_counter() - start < 0.5
    assert len(out) == len(members["g0"]) - 1
