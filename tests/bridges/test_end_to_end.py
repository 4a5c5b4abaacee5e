"""End to end on a real server: KZ posts, UZ opens, exports STIX and MISP, and serves its
bulletins over TAXII 2.1 to taxii2-client (paging, added_after, credential refused)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import stix2
from aiohttp import web
from support import Harness
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from exchange.bridges.misp import draft_from_misp, misp_event
from exchange.bridges.stix import export_bundle
from exchange.bridges.stix_import import drafts_from_stix
from exchange.bridges.taxii import STIX_TYPE, TAXII_TYPE, TaxiiCollections, make_app
from exchange.bulletin.validate import new_bulletin
from exchange.client.opened import OpenedStore, open_one

TOKEN = "t0ken-for-the-test-0123456789abcdefghijklmnop"
HOSTILE = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"


def bulletins(now: int) -> list[dict[str, Any]]:
    common = {"iss": "KZ", "now": now, "groups": ["cac-avsec"]}
    return [
        new_bulletin(
            type="threat-assessment",
            title=HOSTILE,
            priority="flash",
            tlp="amber+strict",
            body={
                "summary": HOSTILE,
                "threat_level": "severe",
                "categories": ["manpads", "uas"],
                "locations": ["UAAA", "UACC"],
                "valid_from": now,
                "valid_until": now + 3600,
                "confidence": "high",
            },
            **common,
        ),
        new_bulletin(
            type="security-measure",
            title="Rescreening at UBBB",
            tlp="green",
            body={
                "measure": "Screen again.",
                "applies_to": {"airports": ["UBBB"]},
                "effective_from": now,
            },
            **common,
        ),
        new_bulletin(
            type="advisory", title="GNSS", tlp="clear", body={"summary": "Jamming."}, **common
        ),
        new_bulletin(
            type="request", title="Drones?", body={"question": "Who has C-UAS?"}, **common
        ),
        new_bulletin(
            iss="KZ",
            now=now,
            to=["UZ"],
            type="advisory",
            title="Direct",
            tlp="red",
            body={"summary": "Only for UZ."},
        ),
    ]


async def _serve(store: OpenedStore, groups: dict[str, str]) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_app(TaxiiCollections(store, groups), TOKEN))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_bridges_end_to_end(harness: Harness, tmp_path: Path) -> None:
    m = await harness.cac(observer=False)
    kz, uz = m["KZ"].client, m["UZ"].client
    sent = bulletins(int(time.time()))
    for b in sent:
        await kz.post(b)

    # --- the store: opened, verified, kept, and only new ones on the next sync
    store = OpenedStore.load(tmp_path / "opened.jsonl")
    new, bad = await store.sync(uz)
    assert [r.bid for r in new] == [b["bid"] for b in sent] and not bad
    assert all(r.log_index is not None and r.sender == "KZ/ops" for r in new)
    assert (tmp_path / "opened.jsonl").stat().st_mode & 0o777 == 0o600
    assert await store.sync(uz) == ([], [])
    again = OpenedStore.load(tmp_path / "opened.jsonl")
    assert [r.to_json() for r in again.records] == [r.to_json() for r in store.records]
    added = [r.added for r in store.records]
    assert added == sorted(added) and len(set(added)) == len(added)

    # --- STIX and MISP exports of what UZ opened, and back to drafts
    rec = await open_one(uz, sent[0]["bid"])
    bundle = export_bundle([rec])
    stix2.parse(bundle, allow_custom=False)
    [draft] = drafts_from_stix(bundle)
    for key in ("type", "title", "tlp", "priority", "body", "groups"):
        assert draft.fields[key] == sent[0][key]
    event = misp_event(rec)["Event"]
    assert event["uuid"] == sent[0]["bid"] and str(event["distribution"]) == "0"
    assert {"tlp:amber+strict", 'avsec-exchange:category="manpads"'} <= {
        t["name"] for t in event["Tag"]
    }
    back = draft_from_misp(json.dumps({"Event": event}))
    assert back.fields["body"] == sent[0]["body"] and back.fields["tlp"] == "amber+strict"
    # the draft posts as a new bulletin
    repost = new_bulletin(iss="UZ", now=int(time.time()), **back.fields | {"groups": ["cac-avsec"]})
    assert (await uz.post(repost)).created

    # --- TAXII: taxii2-client as a real client
    runner, url = await _serve(store, {"cac-avsec": "CAC AVSEC"})
    try:
        await _taxii_checks(url, sent)
        await _refusals(url)
    finally:
        await runner.cleanup()


async def _taxii_checks(url: str, sent: list[dict[str, Any]]) -> None:
    def read() -> dict[str, Any]:
        server = Server(f"{url}/taxii2/", user="any", password=TOKEN)
        assert server.default is not None
        root: ApiRoot = server.api_roots[0]
        by_alias = {c._raw["alias"]: c for c in root.collections}
        assert set(by_alias) == {"all", "cac-avsec"}
        everything: Collection = by_alias["all"]
        pages = list(as_pages(everything.get_objects, per_request=3))
        objs = [o for p in pages for o in p.get("objects", [])]
        group = by_alias["cac-avsec"].get_objects(**{"type": "report"})
        manifest = everything.get_manifest()
        first = everything.get_objects(limit=1)
        return {
            "pages": pages,
            "objs": objs,
            "group": group,
            "manifest": manifest,
            "first": first,
            "collection": everything,
        }

    got = await asyncio.to_thread(read)
    assert len(got["pages"]) > 2  # paged via next
    reports = [o for o in got["objs"] if o["type"] == "report"]
    assert [r["id"] for r in reports] == [f"report--{b['bid']}" for b in sent]
    ids = [o["id"] for o in got["objs"]]
    assert len(ids) == len(set(ids))  # each object once, across pages
    hostile = reports[0]
    assert hostile["name"] == HOSTILE and hostile["description"] == HOSTILE  # data, as sent
    tlps = {r["id"]: r["object_marking_refs"][0] for r in reports}
    assert tlps[f"report--{sent[0]['bid']}"].startswith("marking-definition--939a9414")
    # the group's collection holds the four group bulletins, not the one sent to UZ alone
    group_reports = [o["id"] for o in got["group"]["objects"]]
    assert group_reports == [f"report--{b['bid']}" for b in sent[:4]]
    assert {o["media_type"] for o in got["manifest"]["objects"]} == {STIX_TYPE}

    # added_after: everything after the first bulletin's date_added
    marks = sorted({o["date_added"] for o in got["manifest"]["objects"]})
    assert len(marks) == len(sent)

    def after() -> dict[str, Any]:
        c: Collection = got["collection"]
        return dict(c.get_objects(added_after=marks[0], type="report"))

    later = await asyncio.to_thread(after)
    assert [o["id"] for o in later["objects"]] == [f"report--{b['bid']}" for b in sent[1:]]


async def _refusals(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic " + "YW55Ondyb25n"},  # any:wrong
            {"Authorization": "Basic !!!"},
        ):
            async with s.get(f"{url}/api/collections/", headers=headers) as r:
                assert r.status == 401
                assert r.headers["Content-Type"] == TAXII_TYPE
                assert "objects" not in await r.text()
        ok = {"Authorization": f"Bearer {TOKEN}", "Accept": TAXII_TYPE}
        async with s.get(f"{url}/taxii2/", headers=ok) as r:
            assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
        async with s.get(f"{url}/api/collections/", headers=ok) as r:
            cid = (await r.json(content_type=None))["collections"][0]["id"]
        async with s.get(f"{url}/api/collections/{cid}/objects/?limit=2", headers=ok) as r:
            assert r.headers["X-TAXII-Date-Added-First"] <= r.headers["X-TAXII-Date-Added-Last"]
        async with s.post(f"{url}/api/collections/{cid}/objects/", headers=ok, data=b"{}") as r:
            assert r.status == 405
        async with s.get(f"{url}/api/collections/{cid}/objects/?limit=0", headers=ok) as r:
            assert r.status == 400
        async with s.get(f"{url}/api/collections/{cid}/objects/?added_after=x", headers=ok) as r:
            assert r.status == 400
        async with s.get(f"{url}/api/", headers={**ok, "Accept": "text/html"}) as r:
            assert r.status == 406

    def wrong_password() -> None:
        Server(f"{url}/taxii2/", user="any", password="nope").refresh()

    with pytest.raises(requests.HTTPError) as info:
        await asyncio.to_thread(wrong_password)
    assert info.value.response.status_code == 401
