"""Who may post, read, acknowledge and follow bulletins (PROTOCOL §5, §7): the bulletin,
inbox, ack, status and stream routes against every kind of caller, exact status per cell.

KZ chairs cac-avsec and sent bulletin B to it; UZ (member) and ICAO (observer) are its
recipients; TR belongs to no group. Each of the four parties has a poster-only, a
reader-only and a role-less client; the operator's admin is neither sender nor recipient.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from api._kit import Caller, Reply, World, assert_problem, bulletin

from exchange.crypto import jws
from exchange.crypto.envelope import seal
from exchange.crypto.keys import EncryptionPublicKey

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARTY_OF = {"sender": "KZ", "member": "UZ", "observer": "ICAO", "outsider": "TR"}
VARIANTS = {"poster": ("poster",), "reader": ("reader",), "none": ()}
CALLERS = ["admin"] + [f"{rel}-{v}" for rel in PARTY_OF for v in VARIANTS] + ["anonymous"]


@dataclass
class Scene:
    world: World
    callers: dict[str, Caller] = field(default_factory=dict)
    keys: dict[str, EncryptionPublicKey] = field(default_factory=dict)
    bid: str = ""

    def party(self, who: str) -> str:
        if who == "admin":
            return self.world.admin.party
        if who == "anonymous":  # sends what the sender's poster made
            return "KZ"
        return PARTY_OF[who.split("-")[0]]

    def caller(self, who: str) -> Caller:
        if who == "admin":
            return self.world.admin
        return self.callers["sender-poster" if who == "anonymous" else who]

    async def as_(self, who: str, method: str, path: str, body: bytes | None = None) -> Reply:
        ctype = "application/jose"
        if who == "anonymous":
            return await self.world.wire.send(method, path, body=body, content_type=ctype)
        return await self.world.wire.call(
            self.caller(who), method, path, raw_body=body, content_type=ctype
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(world: World) -> AsyncIterator[Scene]:
    s = Scene(world)
    for party in PARTY_OF.values():
        await world.party(party)
        s.keys[party] = await world.encryption_key(party)
    for rel, party in PARTY_OF.items():
        for variant, roles in VARIANTS.items():
            s.callers[f"{rel}-{variant}"] = await world.client(party, variant, roles)
    await world.group("cac-avsec", {"KZ": "chair", "UZ": "member", "ICAO": "observer"})
    b = bulletin("KZ", groups=["cac-avsec"])
    envelope = seal(b, s.callers["sender-poster"].signer, [s.keys["ICAO"], s.keys["UZ"]])
    r = await s.as_("sender-poster", "POST", "/v1/bulletins", envelope.encode())
    assert r.status == 201, r.raw
    s.bid = b["bid"]
    yield s


Cell = Callable[[Scene, str], Awaitable[int]]


def row(**statuses: int | None) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for key, status in statuses.items():
        if key == "everyone":
            out.update(dict.fromkeys(CALLERS, status))
        elif key in PARTY_OF:
            out.update({c: status for c in CALLERS if c.startswith(key + "-")})
        elif key in VARIANTS:
            out.update({c: status for c in CALLERS if c.endswith("-" + key)})
        else:
            out[key.replace("_", "-")] = status
    return out


async def post_own(s: Scene, who: str) -> int:
    """A bulletin of the caller's own party, to one other party, sealed by the caller."""
    party = s.party(who)
    to = "UZ" if party != "UZ" else "KZ"
    b = bulletin(party, to=[to])
    r = await s.as_(
        who, "POST", "/v1/bulletins", seal(b, s.caller(who).signer, [s.keys[to]]).encode()
    )
    return r.status


async def post_as_other_party(s: Scene, who: str) -> int:
    """``iss`` names a party the caller does not belong to."""
    iss = "TR" if s.party(who) != "TR" else "KZ"
    b = bulletin(iss, to=["UZ"])
    r = await s.as_(
        who, "POST", "/v1/bulletins", seal(b, s.caller(who).signer, [s.keys["UZ"]]).encode()
    )
    return r.status


async def post_signed_by_colleague(s: Scene, who: str) -> int:
    """The caller's party is ``iss`` but the envelope is signed by the party's poster:
    only a poster may post, whoever makes the request."""
    party = s.party(who)
    if who in ("admin", "anonymous"):
        signer = s.callers["sender-poster"].signer
        party = "KZ"
    else:
        signer = s.callers[f"{who.split('-')[0]}-poster"].signer
    to = "UZ" if party != "UZ" else "KZ"
    b = bulletin(party, to=[to])
    r = await s.as_(who, "POST", "/v1/bulletins", seal(b, signer, [s.keys[to]]).encode())
    return r.status


async def get_bulletin(s: Scene, who: str) -> int:
    r = await s.as_(who, "GET", f"/v1/bulletins/{s.bid}")
    if r.status == 200:
        assert r.data["bid"] == s.bid and r.data["envelope"].count(".") == 2
    return r.status


async def get_status(s: Scene, who: str) -> int:
    r = await s.as_(who, "GET", f"/v1/bulletins/{s.bid}/status")
    if r.status == 200:
        assert {x["party"] for x in r.data["recipients"]} == {"UZ", "ICAO"}
    return r.status


async def get_inbox(s: Scene, who: str) -> int:
    r = await s.as_(who, "GET", "/v1/inbox?after=0&limit=1000")
    if r.status == 200:
        bids = {i["bid"] for i in r.data["items"]}
        assert (s.bid in bids) == (s.party(who) in ("UZ", "ICAO")), (who, bids)
    return r.status


_acked: dict[str, list[str]] = {}


async def post_ack(s: Scene, who: str) -> int:
    party = s.party(who)
    used = _acked.setdefault(party, [])
    status = next(x for x in ("received", "read", "actioned") if x not in used)
    claims = {"bid": s.bid, "party": party, "status": status, "iat": int(time.time())}
    body = jws.sign_compact(json.dumps(claims).encode(), s.caller(who).signer, jws.TYP_ACK)
    r = await s.as_(who, "POST", f"/v1/bulletins/{s.bid}/acks", body.encode())
    if r.status == 201:
        used.append(status)
        assert r.data["party"] == party and r.data["status"] == status
    return r.status


async def ack_for_another_party(s: Scene, who: str) -> int:
    """A recipient's reader acking in the name of the other recipient."""
    party = "ICAO" if s.party(who) != "ICAO" else "UZ"
    claims = {"bid": s.bid, "party": party, "status": "actioned", "iat": int(time.time())}
    body = jws.sign_compact(json.dumps(claims).encode(), s.caller(who).signer, jws.TYP_ACK)
    r = await s.as_(who, "POST", f"/v1/bulletins/{s.bid}/acks", body.encode())
    return r.status


async def open_stream(s: Scene, who: str) -> int:
    w = s.world.wire
    url = f"{w.base_url}/v1/stream?after=0"
    if who != "anonymous":
        from api._kit import token

        c = s.caller(who)
        tok = token(c.signer, c.client_id, aud=w.aud, method="GET", path="/v1/stream")
        url += f"&access_token={tok}"
    try:
        async with w.session.ws_connect(url) as ws:
            assert not ws.closed
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


TABLE: dict[str, tuple[Cell, dict[str, int | None]]] = {
    "POST bulletin of own party": (
        post_own,
        row(everyone=403, poster=201, anonymous=401),
    ),
    "POST bulletin naming another party as iss": (
        post_as_other_party,
        row(everyone=403, anonymous=401),
    ),
    # a reader (or no-role client) relaying the party poster's envelope is still refused
    "POST bulletin signed by the party's poster": (
        post_signed_by_colleague,
        row(everyone=403, poster=201, anonymous=401),
    ),
    "GET bulletin": (
        get_bulletin,
        # issue 17: a recipient party's envelope goes only to its reader clients
        row(
            everyone=404,
            sender=200,
            member=403,
            observer=403,
            member_reader=200,
            observer_reader=200,
            anonymous=401,
        ),
    ),
    "GET bulletin status": (
        get_status,
        row(everyone=404, sender=200, admin=200, anonymous=401),
    ),
    "GET inbox": (get_inbox, row(everyone=403, reader=200, anonymous=401)),
    "POST ack": (
        post_ack,
        row(
            everyone=403,
            sender_reader=404,
            outsider_reader=404,
            member_reader=201,
            observer_reader=201,
            anonymous=401,
        ),
    ),
    "POST ack in another recipient's name": (
        ack_for_another_party,
        row(everyone=403, sender_reader=404, outsider_reader=404, anonymous=401),
    ),
    "GET stream (WebSocket)": (open_stream, row(everyone=403, reader=101, anonymous=401)),
}


@pytest.mark.parametrize("route", list(TABLE))
async def test_bulletin_authz(scene: Scene, route: str) -> None:
    cell, expected = TABLE[route]
    assert set(expected) == set(CALLERS)
    got = {who: await cell(scene, who) for who in CALLERS}
    assert got == expected


async def test_refused_replies_are_problems(scene: Scene) -> None:
    r = await scene.as_("outsider-reader", "GET", f"/v1/bulletins/{scene.bid}")
    assert_problem(r, 404, "not-found")
    r = await scene.as_("member-poster", "GET", "/v1/inbox")
    assert_problem(r, 403, "forbidden")
    r = await scene.as_("member-reader", "GET", f"/v1/bulletins/{scene.bid}/status")
    assert_problem(r, 404, "not-found")
