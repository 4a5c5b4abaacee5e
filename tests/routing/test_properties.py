"""Property tests of routing against a plain reference model of PROTOCOL §5."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import ExchangeError, Forbidden, InputError
from exchange.routing import DirectoryView, Subscription, audience, recipients
from exchange.vocab import PRIORITIES, TLPS, TYPES

POOL = ["AZ", "GE", "KG", "KZ", "TJ", "UZ", "ICAO", "TR", "FEED"]
GIDS = ["g1", "g2", "g3", "g4"]
ROLES = ["chair", "member", "observer"]


PARTY_SETS = st.just(frozenset(POOL)) | st.sets(st.sampled_from(POOL), min_size=1)
GROUP_SETS = st.just(frozenset(GIDS)) | st.sets(st.sampled_from(GIDS))
MEMBER_MAPS = st.dictionaries(st.sampled_from([*POOL, "GHOST"]), st.sampled_from(ROLES))
SUBSCRIPTION_LISTS = st.lists(
    st.builds(
        Subscription,
        group=st.sampled_from([*GIDS, "gone"]),
        source=st.sampled_from(POOL),
        types=st.none() | st.frozensets(st.sampled_from(TYPES)),
        min_priority=st.none() | st.sampled_from(PRIORITIES),
    ),
    max_size=6,
)
# unknown ids ("XX", "nope", "ZZ") and a foreign iss are drawn, but rarely
SENDERS = st.sampled_from([*POOL, *POOL, "XX"])
GROUP_LISTS = st.lists(
    st.sampled_from([*GIDS, *GIDS, "@subscribers", "@subscribers", "nope"]),
    unique=True,
    max_size=4,
)
TO_LISTS = st.lists(st.sampled_from([*POOL, *POOL, "ZZ"]), unique=True, max_size=3)
AUTHORISED = st.integers(0, 3)  # 0: leave the sender's roles as drawn
POSTING = st.sampled_from(["chair", "member"])
TYPES_ = st.sampled_from(TYPES)
PRIORITIES_ = st.sampled_from(PRIORITIES)
TLPS_ = st.sampled_from(TLPS)
ISS_MISMATCH = st.integers(0, 9)


@st.composite
def views(draw: st.DrawFn) -> DirectoryView:
    parties = frozenset(draw(PARTY_SETS))
    members = {gid: draw(MEMBER_MAPS) for gid in sorted(draw(GROUP_SETS))}
    subs = tuple(draw(SUBSCRIPTION_LISTS))
    return DirectoryView(parties=parties, members=members, subscriptions=subs)


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], str, DirectoryView]:
    view = draw(views())
    sender = draw(SENDERS)
    groups = draw(GROUP_LISTS)
    if draw(AUTHORISED):  # most requests come from a member of the groups it names
        members = {
            gid: {**roles, sender: draw(POSTING)} if gid in groups else roles
            for gid, roles in view.members.items()
        }
        view = replace(view, members=members)
    meta = {
        "iss": "KZ" if draw(ISS_MISMATCH) == 0 else sender,
        "groups": groups,
        "to": draw(TO_LISTS),
        "type": draw(TYPES_),
        "priority": draw(PRIORITIES_),
        "tlp": draw(TLPS_),
    }
    return meta, sender, view


def model(meta: dict[str, Any], sender: str, view: DirectoryView) -> Any:
    """PROTOCOL §5 written as directly as possible: the recipient set or an error class."""
    groups, to, tlp = meta["groups"], meta["to"], meta["tlp"]
    named = [g for g in groups if g != "@subscribers"]
    if tlp == "red" and groups:
        return InputError
    if sender not in view.parties or any(g not in view.members for g in named):
        return InputError
    if any(p not in view.parties for p in to):
        return InputError
    if meta["iss"] != sender:
        return Forbidden
    if any(view.members[g].get(sender) not in ("chair", "member") for g in named):
        return Forbidden
    sources = set(named)
    if "@subscribers" in groups:
        rank = PRIORITIES.index
        sources |= {
            sub.group
            for sub in view.subscriptions
            if sub.source == sender
            and (sub.types is None or meta["type"] in sub.types)
            and rank(meta["priority"]) <= rank(sub.min_priority or "routine")
        }

    def receives(role: str) -> bool:
        return role in ("chair", "member") or (role == "observer" and tlp != "amber+strict")

    out = {
        party
        for gid in sources
        for party, role in view.members.get(gid, {}).items()
        if receives(role) and party in view.parties
    }
    out = (out | set(to)) - {sender}
    return frozenset(out) if out else InputError


def route(meta: dict[str, Any], sender: str, view: DirectoryView) -> Any:
    try:
        return recipients(meta, sender, view)
    except ExchangeError as error:
        assert type(error) in (InputError, Forbidden), error
        return type(error)


@settings(max_examples=150)
@given(requests())
def test_matches_the_model(request: tuple[dict[str, Any], str, DirectoryView]) -> None:
    meta, sender, view = request
    assert route(meta, sender, view) == model(meta, sender, view)


@settings(max_examples=100)
@given(requests())
def test_invariants(request: tuple[dict[str, Any], str, DirectoryView]) -> None:
    meta, sender, view = request
    result = route(meta, sender, view)
    seen = audience(meta, sender, view) if meta["tlp"] != "red" or not meta["groups"] else None
    if isinstance(result, frozenset):
        assert result and sender not in result and result <= view.parties
        assert seen == result  # audience agrees whenever admission succeeds
        if meta["tlp"] == "red":
            assert result <= set(meta["to"])
        assert set(meta["to"]) - {sender} <= result  # named parties are always included
        shuffled = dict(meta, groups=meta["groups"][::-1], to=meta["to"][::-1])
        assert recipients(shuffled, sender, view) == result
    if seen is not None:
        assert sender not in seen and seen <= view.parties


@settings(max_examples=75)
@given(requests(), st.sampled_from(GIDS), st.sampled_from(POOL), st.sampled_from(ROLES))
def test_adding_a_member_never_removes_a_recipient(
    request: tuple[dict[str, Any], str, DirectoryView], gid: str, party: str, role: str
) -> None:
    meta, sender, view = request
    before = route(meta, sender, view)
    if not isinstance(before, frozenset) or party in view.members.get(gid, {}):
        return
    members = {**view.members, gid: {**view.members.get(gid, {}), party: role}}
    after = route(meta, sender, replace(view, members=members))  # also a new group
    assert isinstance(after, frozenset) and after >= before


@settings(max_examples=75)
@given(requests(), st.sampled_from(GIDS), st.sampled_from(POOL))
def test_demoting_to_observer_matters_only_for_amber_strict(
    request: tuple[dict[str, Any], str, DirectoryView], gid: str, party: str
) -> None:
    meta, sender, view = request
    before = route(meta, sender, view)
    if (
        not isinstance(before, frozenset)
        or party == sender
        or view.members.get(gid, {}).get(party) not in ("chair", "member")
    ):
        return
    members = {**view.members, gid: {**view.members[gid], party: "observer"}}
    after = route(meta, sender, replace(view, members=members))
    if meta["tlp"] == "amber+strict":
        assert after == InputError or (isinstance(after, frozenset) and after <= before)
    else:
        assert after == before


@settings(max_examples=75)
@given(requests())
def test_audience_never_forbids(request: tuple[dict[str, Any], str, DirectoryView]) -> None:
    meta, sender, view = request
    try:
        seen = audience(meta, sender, view)
    except InputError as error:
        assert meta["tlp"] == "red" and meta["groups"], error
        return
    assert sender not in seen and seen <= view.parties
