"""The TAXII 2.1 server on a store made here: revocations as new report versions,
``match[version]``, paging bounds, media types, and hostile content served as data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from bridges.test_stix import record

from exchange.bridges.taxii import MAX_PAGE, STIX_TYPE, TAXII_TYPE, TaxiiCollections, make_app
from exchange.bulletin.validate import new_bulletin
from exchange.client.opened import OpenedRecord, OpenedStore

TOKEN = "x" * 43
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept": TAXII_TYPE}
HOSTILE = "</script><script>alert(1)</script>"


def _store(tmp: Path) -> OpenedStore:
    store = OpenedStore(tmp / "opened.jsonl")
    now = 1790000000
    first = new_bulletin(
        iss="KZ",
        type="advisory",
        title=HOSTILE,
        body={"summary": HOSTILE},
        now=now,
        groups=["cac-avsec"],
    )
    other = new_bulletin(
        iss="UZ",
        type="revocation",
        title="Not UZ's to revoke",
        now=now + 5,
        body={"revokes": first["bid"], "reason": "no"},
        groups=["cac-avsec"],
    )
    revoke = new_bulletin(
        iss="KZ",
        type="revocation",
        title="Withdrawn",
        now=now + 10,
        body={"revokes": first["bid"], "reason": "over"},
        groups=["cac-avsec"],
    )
    for n, b in enumerate((first, other, revoke), 1):
        r = record(b, seq=n)
        store._remember(OpenedRecord(**{**r.to_json(), "added": store._next_added()}))
    return store


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], OpenedStore]]:
    store = _store(tmp_path)
    app = make_app(TaxiiCollections(store, {"cac-avsec": "CAC"}), TOKEN)
    async with TestClient(TestServer(app)) as c:
        yield c, store


async def _objects(c: TestClient[Any, Any], query: str = "") -> dict[str, Any]:
    r = await c.get("/api/collections/", headers=AUTH)
    cols = {x["alias"]: x["id"] for x in (await r.json(content_type=None))["collections"]}
    r = await c.get(f"/api/collections/{cols['cac-avsec']}/objects/{query}", headers=AUTH)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"] == TAXII_TYPE
    data: dict[str, Any] = await r.json(content_type=None)
    data["_cid"] = cols["cac-avsec"]
    return data


async def test_revocation_is_a_new_version_of_the_report(client: Any) -> None:
    c, store = client
    first = store.records[0].bid
    latest = await _objects(c, "?match[type]=report")
    reports = {o["id"]: o for o in latest["objects"]}
    assert reports[f"report--{first}"]["revoked"] is True  # only the issuer's revocation
    every = await _objects(c, f"?match[id]=report--{first}&match[version]=all")
    assert [o.get("revoked", False) for o in every["objects"]] == [False, True]
    r = await c.get(
        f"/api/collections/{latest['_cid']}/objects/report--{first}/versions/", headers=AUTH
    )
    versions = (await r.json(content_type=None))["versions"]
    assert len(versions) == 2 and versions[0] < versions[1]


async def test_pages_and_bounds(client: Any) -> None:
    c, _ = client
    one = await _objects(c, "?limit=1")
    assert one["more"] is True and len(one["objects"]) == 1
    nxt = await _objects(c, f"?limit=1&next={one['next']}")
    assert nxt["objects"][0]["id"] != one["objects"][0]["id"]
    big = await _objects(c, f"?limit={MAX_PAGE * 10}")
    assert big["more"] is False
    for bad in ("limit=0", "limit=-1", "next=99999", "added_after=2026-01-01T00:00:00"):
        r = await c.get(f"/api/collections/{one['_cid']}/objects/?{bad}", headers=AUTH)
        assert r.status == 400, bad
        assert (await r.json(content_type=None))["http_status"] == "400"
    r = await c.get("/api/collections/not-a-collection/objects/", headers=AUTH)
    assert r.status == 404
    r = await c.get(f"/api/collections/{one['_cid']}/manifest/", headers=AUTH)
    manifest = await r.json(content_type=None)
    assert {m["media_type"] for m in manifest["objects"]} == {STIX_TYPE}


async def test_hostile_content_is_served_as_json_data(client: Any) -> None:
    c, _ = client
    r = await c.get("/api/collections/", headers=AUTH)
    cid = (await r.json(content_type=None))["collections"][0]["id"]
    r = await c.get(f"/api/collections/{cid}/objects/?match[type]=report", headers=AUTH)
    assert r.headers["Content-Type"] == TAXII_TYPE  # never text/html
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    names = [o["name"] for o in (await r.json(content_type=None))["objects"]]
    assert HOSTILE in names
    # a credential in the query string or a near miss is not a credential
    for headers in ({"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": TOKEN}):
        r = await c.get(f"/api/collections/{cid}/objects/", headers=headers)
        assert r.status == 401 and "WWW-Authenticate" in r.headers
    r = await c.get(f"/api/collections/{cid}/objects/?access_token={TOKEN}")
    assert r.status == 401
