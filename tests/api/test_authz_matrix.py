"""Who may do what: every admin, directory and subscription route against every kind
of caller, with the exact status of each cell.

Callers are the operator's admin, and for each of four parties a poster-only, a
reader-only and a role-less client: KZ chairs cac-avsec, UZ is a member (and chairs
casp-mid, where KZ is a member), ICAO observes cac-avsec, TR belongs to no group. Each
mutating cell starts from a known state (prepared by the admin), so that the exact
status is fixed, and a refused cell must leave the directory version unchanged.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from api._kit import Caller, Reply, World, assert_problem

from exchange.crypto.keys import Ed25519Signer, EncryptionPrivateKey
from exchange.store import directory as dir_store

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARTY_OF = {"chair": "KZ", "member": "UZ", "observer": "ICAO", "outsider": "TR"}
VARIANTS = {"poster": ("poster",), "reader": ("reader",), "none": ()}
CALLERS = ["admin"] + [f"{rel}-{v}" for rel in PARTY_OF for v in VARIANTS] + ["anonymous"]
_n = itertools.count()


@dataclass
class Matrix:
    world: World
    callers: dict[str, Caller] = field(default_factory=dict)
    before: int = 0
    after: int = 0

    def own_party(self, name: str) -> str:
        if name == "admin":
            return self.world.admin.party
        return PARTY_OF.get(name.split("-")[0], "KZ")

    def other_party(self, name: str) -> str:
        return "UZ" if self.own_party(name) == "KZ" else "KZ"

    async def as_(self, name: str, method: str, path: str, body: Any = None) -> Reply:
        """The cell's one request as ``name``; the directory version is read just before
        and just after it (preparation and clean-up by the admin are not counted)."""
        self.before = await self.version()
        if name == "anonymous":
            raw = None if body is None else json.dumps(body).encode()
            r = await self.world.wire.send(method, path, body=raw)
        else:
            r = await self.world.wire.call(self.callers[name], method, path, body)
        self.after = await self.version()
        return r

    async def admin(self, method: str, path: str, body: Any = None) -> Reply:
        return await self.world.wire.call(self.world.admin, method, path, body)

    async def version(self) -> int:
        ex = self.world.h.server.exchange
        return await ex.db.run_read(dir_store.current_version)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(world: World) -> AsyncIterator[Matrix]:
    m = Matrix(world)
    for party in ("KZ", "UZ", "ICAO", "TR", "FEED"):
        await world.party(party, kind="feed" if party == "FEED" else "state")
    for rel, party in PARTY_OF.items():
        for variant, roles in VARIANTS.items():
            m.callers[f"{rel}-{variant}"] = await world.client(party, variant, roles)
    m.callers["admin"] = world.admin
    await world.group("cac-avsec", {"KZ": "chair", "UZ": "member", "ICAO": "observer"})
    await world.group("casp-mid", {"UZ": "chair", "KZ": "member"})
    await world.group("scratch", {})
    yield m


Cell = Callable[[Matrix, str], Awaitable[Reply]]


def row(**statuses: int | None) -> dict[str, int | None]:
    """Expected status per caller, from a few group keywords (later ones win)."""
    out: dict[str, int | None] = {}
    for key, status in statuses.items():
        if key == "everyone":
            out.update(dict.fromkeys(CALLERS, status))
        elif key == "clients":
            out.update({c: status for c in CALLERS if c != "anonymous"})
        elif key in PARTY_OF:
            out.update({c: status for c in CALLERS if c.startswith(key + "-")})
        elif key in ("poster", "reader", "none"):
            out.update({c: status for c in CALLERS if c.endswith("-" + key)})
        else:
            out[key.replace("_", "-")] = status
    return out


ADMIN_ONLY_201 = row(everyone=403, admin=201, anonymous=401)
ADMIN_ONLY_200 = row(everyone=403, admin=200, anonymous=401)


# --- the cells ------------------------------------------------------------------------


async def get(m: Matrix, who: str, path: str) -> Reply:
    return await m.as_(who, "GET", path)


async def add_party(m: Matrix, who: str) -> Reply:
    return await m.as_(
        who, "POST", "/v1/admin/parties", {"id": f"P{next(_n)}", "name": "p", "kind": "state"}
    )


def add_client(whose: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        party = m.own_party(who) if whose == "own" else m.other_party(who)
        body = {
            "id": f"{party}/m{next(_n)}",
            "party": party,
            "roles": ["reader"],
            "jwk": Ed25519Signer.generate().public.to_jwk(),
        }
        return await m.as_(who, "POST", "/v1/admin/clients", body)

    return cell


def add_enc_key(whose: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        party = m.own_party(who) if whose == "own" else m.other_party(who)
        jwk = EncryptionPrivateKey.generate("x25519").public.to_jwk()
        return await m.as_(who, "POST", f"/v1/admin/parties/{party}/encryption-keys", {"jwk": jwk})

    return cell


async def revoke_other_key(m: Matrix, who: str) -> Reply:
    victim = await m.world.client("TR", f"victim{next(_n)}", ("reader",))
    return await m.as_(who, "POST", f"/v1/admin/keys/{victim.signer.kid}/revoke")


async def revoke_own_key(m: Matrix, who: str) -> Reply:
    kid = m.callers[who].signer.kid if who in m.callers else m.world.admin.signer.kid
    return await m.as_(who, "POST", f"/v1/admin/keys/{kid}/revoke")


async def add_group(m: Matrix, who: str) -> Reply:
    return await m.as_(who, "POST", "/v1/admin/groups", {"id": f"g-{next(_n)}", "name": "g"})


def set_member(group: str, whose: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        party = {"own": m.own_party(who), "other": m.other_party(who), "TR": "TR"}[whose]
        r = await m.as_(who, "PUT", f"/v1/admin/groups/{group}/members/{party}", {"role": "member"})
        if r.status == 200 and group != "scratch":  # put cac-avsec back as it was
            assert (
                await m.admin("DELETE", f"/v1/admin/groups/{group}/members/{party}")
            ).status == 200
        return r

    return cell


def remove_member(whose: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        party = m.own_party(who) if whose == "own" else m.other_party(who)
        path = f"/v1/admin/groups/scratch/members/{party}"
        assert (await m.admin("PUT", path, {"role": "member"})).status == 200
        return await m.as_(who, "DELETE", path)

    return cell


def put_subscription(group: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        path = f"/v1/groups/{group}/subscriptions/FEED"
        r = await m.admin("DELETE", path)
        assert r.status in (200, 404)
        return await m.as_(
            who, "PUT", path, {"types": ["threat-assessment"], "min_priority": "immediate"}
        )

    return cell


def delete_subscription(group: str) -> Cell:
    async def cell(m: Matrix, who: str) -> Reply:
        path = f"/v1/groups/{group}/subscriptions/FEED"
        assert (await m.admin("PUT", path, {"types": None})).status in (200, 201)
        return await m.as_(who, "DELETE", path)

    return cell


#: route id -> (cell, expected status per caller, does a 2xx change the directory)
TABLE: dict[str, tuple[Cell, dict[str, int | None], bool]] = {
    # --- public and directory routes (routes_directory.py) ---------------------------
    "GET health": (lambda m, w: get(m, w, "/v1/health"), row(everyone=200), False),
    "GET server-key": (lambda m, w: get(m, w, "/v1/server-key"), row(everyone=200), False),
    "GET directory": (
        lambda m, w: get(m, w, "/v1/directory"),
        row(clients=200, anonymous=401),
        False,
    ),
    # --- admin routes (routes_admin.py) ----------------------------------------------
    "POST parties": (add_party, ADMIN_ONLY_201, True),
    "POST clients own party": (add_client("own"), ADMIN_ONLY_201, True),
    "POST clients other party": (add_client("other"), ADMIN_ONLY_201, True),
    "POST encryption-keys own party": (add_enc_key("own"), ADMIN_ONLY_201, True),
    "POST encryption-keys other party": (add_enc_key("other"), ADMIN_ONLY_201, True),
    "POST revoke another client's key": (revoke_other_key, ADMIN_ONLY_200, True),
    # the admin's own key is left alone: n/a
    "POST revoke own key": (revoke_own_key, {**ADMIN_ONLY_200, "admin": None}, True),
    "POST groups": (add_group, ADMIN_ONLY_201, True),
    "PUT member own party, scratch group": (set_member("scratch", "own"), ADMIN_ONLY_200, True),
    "PUT member other party, scratch group": (
        set_member("scratch", "other"),
        ADMIN_ONLY_200,
        True,
    ),
    # not even the chair manages the membership of its group
    "PUT member TR into cac-avsec": (set_member("cac-avsec", "TR"), ADMIN_ONLY_200, True),
    "DELETE member own party": (remove_member("own"), ADMIN_ONLY_200, True),
    "DELETE member other party": (remove_member("other"), ADMIN_ONLY_200, True),
    # --- subscriptions (routes_admin.py) ------------------------------------------------
    "GET subscriptions cac-avsec": (
        lambda m, w: get(m, w, "/v1/groups/cac-avsec/subscriptions"),
        row(clients=200, outsider=403, anonymous=401),
        False,
    ),
    "GET subscriptions casp-mid": (
        lambda m, w: get(m, w, "/v1/groups/casp-mid/subscriptions"),
        row(clients=200, observer=403, outsider=403, anonymous=401),
        False,
    ),
    "PUT subscription cac-avsec": (
        put_subscription("cac-avsec"),
        row(everyone=403, admin=201, chair_poster=201, chair_reader=201, anonymous=401),
        True,
    ),
    "DELETE subscription cac-avsec": (
        delete_subscription("cac-avsec"),
        row(everyone=403, admin=200, chair_poster=200, chair_reader=200, anonymous=401),
        True,
    ),
    # KZ chairs cac-avsec but is only a member of casp-mid; UZ chairs casp-mid
    "PUT subscription casp-mid": (
        put_subscription("casp-mid"),
        row(everyone=403, admin=201, member_poster=201, member_reader=201, anonymous=401),
        True,
    ),
    "DELETE subscription casp-mid": (
        delete_subscription("casp-mid"),
        row(everyone=403, admin=200, member_poster=200, member_reader=200, anonymous=401),
        True,
    ),
    # --- reports (routes_reports.py; PROTOCOL §7 1.1, docs/protocol.md N14) -----------
    # a group's report: its chair and members, whatever their roles; not an observer
    "GET report cac-avsec": (
        lambda m, w: get(m, w, "/v1/reports?group=cac-avsec"),
        row(clients=403, chair=200, member=200, admin=200, anonymous=401),
        False,
    ),
    # KZ is only a member of casp-mid, UZ its chair: both see it; ICAO is not in it
    "GET report casp-mid": (
        lambda m, w: get(m, w, "/v1/reports?group=casp-mid"),
        row(clients=403, chair=200, member=200, admin=200, anonymous=401),
        False,
    ),
    "GET report own party": (
        lambda m, w: get(m, w, f"/v1/reports?party={m.own_party(w)}"),
        row(clients=200, anonymous=401),
        False,
    ),
    "GET report other party": (
        lambda m, w: get(m, w, f"/v1/reports?party={m.other_party(w)}"),
        row(clients=403, admin=200, anonymous=401),
        False,
    ),
    # no scope: the whole exchange for the operator, the caller's own party for others
    "GET report without scope": (
        lambda m, w: get(m, w, "/v1/reports"),
        row(clients=200, anonymous=401),
        False,
    ),
}


@pytest.mark.parametrize("route", list(TABLE))
async def test_authz_cell(matrix: Matrix, route: str) -> None:
    cell, expected, mutates = TABLE[route]
    assert set(expected) == set(CALLERS), "every caller has a cell"
    got: dict[str, int | None] = {}
    for who in CALLERS:
        if expected[who] is None:
            got[who] = None
            continue
        r = await cell(matrix, who)
        got[who] = r.status
        if r.status >= 400:
            code = {401: "unauthorized", 403: "forbidden"}.get(r.status)
            assert_problem(r, r.status, code)
            assert matrix.after == matrix.before, (route, who, "a refused call changed it")
        elif mutates:
            assert matrix.after == matrix.before + 1, (route, who)
        else:
            assert matrix.after == matrix.before, (route, who)
    assert got == expected


async def test_admin_role_is_only_for_the_operators_party(matrix: Matrix) -> None:
    """PROTOCOL §1: admin is for the exchange operator only. An operator cannot (by
    mistake or from a stolen admin key) make a State's client an admin."""
    before = await matrix.version()
    for party, roles in (("KZ", ["admin"]), ("UZ", ["admin", "poster"]), ("FEED", ["admin"])):
        body = {
            "id": f"{party}/root",
            "party": party,
            "roles": roles,
            "jwk": Ed25519Signer.generate().public.to_jwk(),
        }
        r = await matrix.admin("POST", "/v1/admin/clients", body)
        assert_problem(r, 400, "invalid-request")
    assert await matrix.version() == before
    body = {
        "id": f"{matrix.world.admin.party}/second",
        "party": matrix.world.admin.party,
        "roles": ["admin"],
        "jwk": Ed25519Signer.generate().public.to_jwk(),
    }
    assert (await matrix.admin("POST", "/v1/admin/clients", body)).status == 201


async def test_refused_callers_are_not_locked_out(matrix: Matrix) -> None:
    """After the whole table every caller's key still works: no 403 revoked anything."""
    for who in CALLERS:
        if who == "anonymous":
            continue
        r = await matrix.as_(who, "GET", "/v1/directory")
        assert r.status == 200, who
