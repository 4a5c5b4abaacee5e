"""A TAXII 2.1 read server of this party's opened bulletins, for its own MISP or OpenCTI.

It serves what :class:`~exchange.client.opened.OpenedStore` holds (opened and verified,
PROTOCOL §3) as STIX 2.1 objects in collections: one for every bulletin and one per
coordination group. Read only, behind HTTP Basic or a bearer token of its own, on
loopback unless told otherwise. ``date_added`` is when the local store took a bulletin
in, which only grows, so ``added_after`` polling neither misses nor repeats.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from exchange.bridges.stix import bulletin_objects, revoked_version
from exchange.client.opened import OpenedRecord, OpenedStore
from exchange.vocab import SUBSCRIBERS

__all__ = [
    "MAX_PAGE",
    "STIX_TYPE",
    "TAXII_TYPE",
    "Collection",
    "TaxiiCollections",
    "make_app",
]

TAXII_TYPE: Final = "application/taxii+json;version=2.1"
STIX_TYPE: Final = "application/stix+json;version=2.1"
#: The most objects one page returns (a client may ask for fewer with ``limit``).
MAX_PAGE: Final = 1000
_DEFAULT_PAGE: Final = 100
_NS: Final = uuid.UUID("0d8f7c2e-5a4b-4e61-8f3a-9c1b2d7e6a50")
_ALL: Final = "all"
_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


@dataclass
class Collection:
    """One TAXII collection: its objects in the order they were added, each version once."""

    id: str
    title: str
    alias: str
    description: str
    entries: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    #: each object's first and last version in this collection (TAXII ``match[version]``)
    first: dict[str, str] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, added: str, obj: dict[str, Any]) -> None:
        oid, version = str(obj["id"]), _version(obj)
        if (oid, version) in self._seen:
            return
        self._seen.add((oid, version))
        self.first[oid] = min(version, self.first.get(oid, version))
        self.last[oid] = max(version, self.last.get(oid, version))
        when = datetime.fromisoformat(added.replace("Z", "+00:00"))
        self.entries.append((when, added, obj))

    def wanted(self, obj: dict[str, Any], versions: set[str]) -> bool:
        oid, version = str(obj["id"]), _version(obj)
        return (
            "all" in versions
            or ("last" in versions and version == self.last[oid])
            or ("first" in versions and version == self.first[oid])
            or version in versions
        )

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "alias": self.alias,
            "description": self.description,
            "can_read": True,
            "can_write": False,
            "media_types": [STIX_TYPE],
        }


def _version(obj: dict[str, Any]) -> str:
    return str(obj.get("modified", obj.get("created", "")))


class TaxiiCollections:
    """The collections of a store: ``all``, and one per group this party belongs to or
    has received bulletins for."""

    def __init__(self, store: OpenedStore, groups: dict[str, str] | None = None) -> None:
        self.store = store
        self._done = 0
        self.by_id: dict[str, Collection] = {}
        #: bid -> its report, issuer and collections, for revocations that name it
        self._reports: dict[str, tuple[dict[str, Any], str, list[Collection]]] = {}
        self._all = self._collection(_ALL, "All bulletins this party received")
        for gid, name in sorted((groups or {}).items()):
            self._collection(gid, name)
        self.refresh()

    def _collection(self, alias: str, title: str) -> Collection:
        cid = str(uuid.uuid5(_NS, "collection:" + alias))
        if cid not in self.by_id:
            desc = (
                "Every bulletin this party opened and verified."
                if alias == _ALL
                else f"Bulletins addressed to the coordination group {alias}."
            )
            self.by_id[cid] = Collection(cid, title, alias, desc)
        return self.by_id[cid]

    def _add(self, rec: OpenedRecord) -> None:
        objects = bulletin_objects(rec)
        targets = [self._all] + [
            self._collection(g, g) for g in rec.bulletin["groups"] if g != SUBSCRIBERS
        ]
        for c in targets:
            for obj in objects:
                c.add(rec.added, obj)
        b = rec.bulletin
        self._reports[rec.bid] = (objects[-1], str(b["iss"]), targets)
        revoked = (
            self._reports.get(str(b["body"].get("revokes"))) if b["type"] == "revocation" else None
        )
        if revoked is not None and revoked[1] == b["iss"]:
            new = revoked_version(revoked[0], rec)
            for c in revoked[2]:
                c.add(rec.added, new)

    def refresh(self) -> None:
        """Take in what the store gained since the last call."""
        for rec in self.store.records[self._done :]:
            self._add(rec)
        self._done = len(self.store.records)


class _Problem(Exception):
    def __init__(self, status: int, title: str, description: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.description = description


def _reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    h = {**_HEADERS, "Content-Type": TAXII_TYPE, **(headers or {})}
    return web.Response(body=body, status=status, headers=h)


def _error(status: int, title: str, description: str = "") -> web.Response:
    data = {"title": title, "http_status": str(status)}
    if description:
        data["description"] = description
    extra = {"WWW-Authenticate": 'Basic realm="exchange taxii", Bearer'} if status == 401 else {}
    return _reply(data, status, extra)


def _authorised(header: str, token: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _user, sep, password = decoded.partition(":")
        return bool(sep) and hmac.compare_digest(password.encode(), token.encode())
    return False


def _accepts(header: str) -> bool:
    if not header:
        return True
    kinds = [part.split(";")[0].strip().lower() for part in header.split(",")]
    return any(k in ("application/taxii+json", "application/*", "*/*") for k in kinds)


def _time(value: str, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Problem(400, f"{name} is not a timestamp") from None
    if when.tzinfo is None:
        raise _Problem(400, f"{name} needs a time zone (Z)")
    return when


def _int(value: str, name: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise _Problem(400, f"{name} must be a whole number from {low} to {high}")
    return int(value)


def _select(c: Collection, q: Any, object_id: str | None = None) -> dict[str, Any]:
    """Filter and page a collection (TAXII 2.1 §3.4, §5.3): the page and its bounds."""
    after = _time(q["added_after"], "added_after") if "added_after" in q else None
    # a client may ask for more than a page; it gets MAX_PAGE and ``next`` (TAXII §3.4)
    limit = min(_int(q.get("limit", str(_DEFAULT_PAGE)), "limit", 1, 10**9), MAX_PAGE)
    start = _int(q["next"], "next", 0, len(c.entries)) if "next" in q else 0
    types = {t for t in q.get("match[type]", "").split(",") if t}
    ids = {i for i in q.get("match[id]", "").split(",") if i}
    if object_id is not None:
        ids = {object_id}
    versions = {v for v in q.get("match[version]", "last").split(",") if v}
    specs = {s for s in q.get("match[spec_version]", "").split(",") if s}
    if specs and "2.1" not in specs:
        return {"items": [], "more": False, "next": None}
    items: list[tuple[datetime, str, dict[str, Any]]] = []
    nxt: int | None = None
    for index in range(start, len(c.entries)):
        entry = c.entries[index]
        when, _added, obj = entry
        if after is not None and when <= after:
            continue
        if types and obj["type"] not in types:
            continue
        if ids and obj["id"] not in ids:
            continue
        if not c.wanted(obj, versions):
            continue
        if len(items) == limit:
            nxt = index
            break
        items.append(entry)
    return {"items": items, "more": nxt is not None, "next": nxt}


def _page_headers(items: list[tuple[datetime, str, dict[str, Any]]]) -> dict[str, str]:
    if not items:
        return {}
    return {"X-TAXII-Date-Added-First": items[0][1], "X-TAXII-Date-Added-Last": items[-1][1]}


def make_app(
    collections: TaxiiCollections,
    token: str,
    *,
    title: str = "AVSEC Exchange",
) -> web.Application:
    """The TAXII 2.1 application: discovery at ``/taxii2/``, one API root at ``/api/``."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not _authorised(request.headers.get("Authorization", ""), token):
            return _error(401, "a credential is required", "HTTP Basic or Bearer")
        if not _accepts(request.headers.get("Accept", "")):
            return _error(406, "not acceptable", f"this server answers {TAXII_TYPE}")
        try:
            return await handler(request)
        except _Problem as p:
            return _error(p.status, p.title, p.description)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason)

    def collection(request: web.Request) -> Collection:
        c = collections.by_id.get(request.match_info["cid"])
        if c is None:
            raise _Problem(404, "no such collection")
        return c

    async def discovery(request: web.Request) -> web.Response:
        root = str(request.url.with_path("/api/").with_query(None))
        return _reply(
            {
                "title": f"{title} TAXII server",
                "description": "Bulletins this party opened and verified, as STIX 2.1.",
                "default": root,
                "api_roots": [root],
            }
        )

    async def api_root(request: web.Request) -> web.Response:
        return _reply(
            {
                "title": f"{title} bulletins",
                "versions": [TAXII_TYPE],
                "max_content_length": 0,
            }
        )

    async def list_collections(request: web.Request) -> web.Response:
        collections.refresh()
        return _reply({"collections": [c.info() for c in collections.by_id.values()]})

    async def get_collection(request: web.Request) -> web.Response:
        collections.refresh()
        return _reply(collection(request).info())

    async def objects(request: web.Request) -> web.Response:
        collections.refresh()
        c = collection(request)
        page = _select(c, request.query, request.match_info.get("oid"))
        if "oid" in request.match_info and not page["items"] and "next" not in request.query:
            raise _Problem(404, "no such object in this collection")
        out: dict[str, Any] = {"more": page["more"]}
        if page["more"]:
            out["next"] = str(page["next"])
        if page["items"]:
            out["objects"] = [obj for _w, _a, obj in page["items"]]
        return _reply(out, headers=_page_headers(page["items"]))

    async def manifest(request: web.Request) -> web.Response:
        collections.refresh()
        page = _select(collection(request), request.query)
        out: dict[str, Any] = {"more": page["more"]}
        if page["more"]:
            out["next"] = str(page["next"])
        if page["items"]:
            out["objects"] = [
                {
                    "id": obj["id"],
                    "date_added": added,
                    "version": obj.get("modified", obj.get("created", added)),
                    "media_type": STIX_TYPE,
                }
                for _w, added, obj in page["items"]
            ]
        return _reply(out, headers=_page_headers(page["items"]))

    async def versions(request: web.Request) -> web.Response:
        collections.refresh()
        query = {**request.query, "match[version]": "all"}
        page = _select(collection(request), query, request.match_info["oid"])
        if not page["items"]:
            raise _Problem(404, "no such object in this collection")
        found = [obj.get("modified", obj.get("created")) for _w, _a, obj in page["items"]]
        return _reply({"more": False, "versions": found}, headers=_page_headers(page["items"]))

    app = web.Application(middlewares=[guard])
    app.router.add_get("/taxii2/", discovery)
    app.router.add_get("/api/", api_root)
    app.router.add_get("/api/collections/", list_collections)
    app.router.add_get("/api/collections/{cid}/", get_collection)
    app.router.add_get("/api/collections/{cid}/objects/", objects)
    app.router.add_get("/api/collections/{cid}/objects/{oid}/", objects)
    app.router.add_get("/api/collections/{cid}/objects/{oid}/versions/", versions)
    app.router.add_get("/api/collections/{cid}/manifest/", manifest)
    return app
