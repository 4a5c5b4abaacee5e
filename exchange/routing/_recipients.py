"""The recipient set of PROTOCOL §5, in O(members of the groups involved + subscriptions)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from exchange.errors import Forbidden, InputError
from exchange.routing._model import DirectoryView
from exchange.vocab import POSTING_ROLES, PRIORITIES, SUBSCRIBERS, TLPS, TYPES

__all__ = ["audience", "recipients"]


def recipients(meta: Mapping[str, Any], sender_party: str, view: DirectoryView) -> frozenset[str]:
    """The parties a bulletin goes to, enforcing every rule of PROTOCOL §5.

    Raises :class:`InputError` for an unknown group or party, a red bulletin with groups,
    or no recipient; :class:`Forbidden` if ``sender_party`` is not ``meta["iss"]`` or
    not a chair or member of a named group.
    """
    return _route(meta, sender_party, view, admission=True)


def audience(meta: Mapping[str, Any], sender_party: str, view: DirectoryView) -> frozenset[str]:
    """Who the bulletin reaches in ``view``, for a reader of a bulletin already admitted.

    Never raises :class:`Forbidden`: the sender's rights were checked at admission and
    may have changed since. Groups and parties no longer in ``view`` are skipped, and
    an empty set is returned, not refused. Still an :class:`InputError` for metadata
    that no server may admit (a red bulletin with groups, malformed fields). The
    receipt's recipient list, not this, is the record of who was sent the bulletin.
    """
    return _route(meta, sender_party, view, admission=False)


def _route(
    meta: Mapping[str, Any], sender: str, view: DirectoryView, *, admission: bool
) -> frozenset[str]:
    groups = _ids(meta, "groups")
    to = _ids(meta, "to")
    tlp = meta.get("tlp")
    if tlp not in TLPS:
        raise InputError(f"tlp: must be one of {', '.join(TLPS)}")
    if tlp == "red" and groups:  # PROTOCOL §5
        raise InputError("groups: must be empty when tlp is red; name the recipients in to")
    subscribed = SUBSCRIBERS in groups
    if subscribed:
        _check_filter_fields(meta)
    if admission:
        _check_admission(meta, sender, groups, to, view)

    no_observers = tlp == "amber+strict"  # PROTOCOL §5: not delivered to observers
    reached = [gid for gid in groups if gid != SUBSCRIBERS]
    if subscribed:  # PROTOCOL §5: the sender need not belong to subscribed groups
        type_, priority = meta["type"], meta["priority"]
        reached += [
            sub.group
            for sub in view.subscriptions
            if sub.source == sender and sub.matches(type_, priority)
        ]
    out: set[str] = set()
    for gid in reached:
        members = view.members.get(gid)
        if members is not None:  # a subscription of a deleted group: none
            _add_members(out, members, no_observers, view.parties)
    if admission and no_observers:
        _check_strict_to(to, reached, view)
    out.update(party for party in to if party in view.parties)
    out.discard(sender)  # PROTOCOL §5: minus the sender's own party
    if admission and not out:  # PROTOCOL §5: at least one recipient
        raise InputError("no recipients: groups and to reach no party other than the sender")
    return frozenset(out)


def _check_admission(
    meta: Mapping[str, Any],
    sender: str,
    groups: Sequence[str],
    to: Sequence[str],
    view: DirectoryView,
) -> None:
    """Every §5 refusal, bad requests first and then rights, each in list order."""
    iss = meta.get("iss", sender)
    if sender not in view.parties:
        raise InputError(f"iss: unknown party {_show(sender)}")
    for i, gid in enumerate(groups):
        if gid != SUBSCRIBERS and gid not in view.members:
            raise InputError(f"groups[{i}]: unknown group {_show(gid)}")
    for i, party in enumerate(to):
        if party not in view.parties:
            raise InputError(f"to[{i}]: unknown party {_show(party)}")
    if iss != sender:
        raise Forbidden(f"iss: the sender's party is {_show(sender)}, not {_show(iss)}")
    for i, gid in enumerate(groups):
        if gid == SUBSCRIBERS:
            continue
        role = view.members[gid].get(sender)
        if role == "observer":
            raise Forbidden(f"groups[{i}]: {sender} is an observer of {gid}; observers cannot post")
        if role not in POSTING_ROLES:  # PROTOCOL §5: chair or member of every named group
            raise Forbidden(f"groups[{i}]: {sender} is not a member of {gid}")


def _check_strict_to(to: Sequence[str], reached: Sequence[str], view: DirectoryView) -> None:
    """Issue 17: an observer of a group the bulletin reaches cannot be brought back into an
    ``amber+strict`` bulletin through ``to``; the sender is told, nothing is stored. A
    party named in ``to`` that observes none of those groups is an ordinary addressee."""
    for i, party in enumerate(to):
        for gid in reached:
            if view.members.get(gid, {}).get(party) == "observer":
                raise InputError(
                    f"to[{i}]: {_show(party)} is an observer of {_show(gid)}; an amber+strict "
                    "bulletin is not delivered to observers (lower the TLP or drop it from to)"
                )


def _add_members(
    out: set[str], members: Mapping[str, str], no_observers: bool, parties: frozenset[str]
) -> None:
    """Chairs and members always; observers unless amber+strict; unknown roles never."""
    for party, role in members.items():
        if party in parties and (
            role in POSTING_ROLES or (role == "observer" and not no_observers)
        ):
            out.add(party)


def _ids(meta: Mapping[str, Any], field: str) -> Sequence[str]:
    value = meta.get(field, ())
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{field}: must be a list of ids")
    return value


def _check_filter_fields(meta: Mapping[str, Any]) -> None:
    """``type`` and ``priority`` are what subscription filters compare."""
    if meta.get("type") not in TYPES:
        raise InputError(f"type: must be one of {', '.join(TYPES)}")
    if meta.get("priority") not in PRIORITIES:
        raise InputError(f"priority: must be one of {', '.join(PRIORITIES)}")


def _show(value: object, limit: int = 40) -> str:
    """A short ASCII rendering of a caller's value for a message."""
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."
