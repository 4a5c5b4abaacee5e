"""The operator's pages (admin profile): parties, clients, keys, groups, members and
subscriptions, changed through the admin API. Metadata only: the operator's console
holds no State's key and opens no bulletin. Each change is shown with the directory
version it made and the audit-log entry that records it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from exchange.console.page import STATE_KEY, render
from exchange.errors import ExchangeError, InputError
from exchange.vocab import (
    CLIENT_ID_RE,
    CLIENT_ROLES,
    GROUP_ID_RE,
    GROUP_ROLES,
    KID_RE,
    PARTY_ID_RE,
    PARTY_KINDS,
    PRIORITIES,
    TYPES,
)

__all__ = ["routes"]

routes = web.RouteTableDef()


def _id(form: Any, name: str, pattern: re.Pattern[str]) -> str:
    value = str(form.get(name, "")).strip()
    if not pattern.match(value):
        raise InputError(f"{name}: not a valid id")
    return value


def _jwk(form: Any) -> dict[str, Any]:
    try:
        jwk = json.loads(str(form.get("jwk", "")))
    except ValueError:
        raise InputError("jwk: paste the public JWK as JSON (the .pub.jwk file)") from None
    if not isinstance(jwk, dict) or "d" in jwk:
        raise InputError("jwk: must be a public JWK object (never a private key)")
    return jwk


def _change(form: Any) -> tuple[str, str, Any]:
    """The admin API call a posted operator form asks for."""
    op = str(form.get("op", ""))
    actions: dict[str, Callable[[], tuple[str, str, Any]]] = {
        "party": lambda: (
            "POST",
            "/v1/admin/parties",
            {
                "id": _id(form, "id", PARTY_ID_RE),
                "name": str(form.get("name", "")).strip(),
                "kind": str(form.get("kind", "")),
            },
        ),
        "client": lambda: (
            "POST",
            "/v1/admin/clients",
            {
                "id": (cid := _id(form, "id", CLIENT_ID_RE)),
                "party": cid.split("/", 1)[0],
                "roles": [r for r in form.getall("roles", []) if r in CLIENT_ROLES],
                "jwk": _jwk(form),
            },
        ),
        "enc-key": lambda: (
            "POST",
            f"/v1/admin/parties/{_id(form, 'party', PARTY_ID_RE)}/encryption-keys",
            {"jwk": _jwk(form)},
        ),
        "revoke": lambda: ("POST", f"/v1/admin/keys/{_id(form, 'kid', KID_RE)}/revoke", None),
        "group": lambda: (
            "POST",
            "/v1/admin/groups",
            {"id": _id(form, "id", GROUP_ID_RE), "name": str(form.get("name", "")).strip()},
        ),
        "member": lambda: (
            "PUT",
            f"/v1/admin/groups/{_id(form, 'group', GROUP_ID_RE)}/members/"
            f"{_id(form, 'party', PARTY_ID_RE)}",
            {"role": str(form.get("role", ""))},
        ),
        "remove-member": lambda: (
            "DELETE",
            f"/v1/admin/groups/{_id(form, 'group', GROUP_ID_RE)}/members/"
            f"{_id(form, 'party', PARTY_ID_RE)}",
            None,
        ),
        "subscribe": lambda: (
            "PUT",
            f"/v1/groups/{_id(form, 'group', GROUP_ID_RE)}/subscriptions/"
            f"{_id(form, 'source', PARTY_ID_RE)}",
            {
                "types": [t for t in form.getall("types", []) if t in TYPES] or None,
                "min_priority": str(form.get("min_priority", "")) or None,
            },
        ),
        "unsubscribe": lambda: (
            "DELETE",
            f"/v1/groups/{_id(form, 'group', GROUP_ID_RE)}/subscriptions/"
            f"{_id(form, 'source', PARTY_ID_RE)}",
            None,
        ),
    }
    if op not in actions:
        raise InputError("unknown operation")
    return actions[op]()


async def _page(request: web.Request, **extra: Any) -> web.Response:
    state = request.app[STATE_KEY]
    d = await state.directory(refresh=True)
    return render(
        request,
        "admin.html",
        {
            "doc": d.doc,
            "version": d.version,
            "kinds": PARTY_KINDS,
            "client_roles": CLIENT_ROLES,
            "member_roles": GROUP_ROLES,
            "types": TYPES,
            "priorities": PRIORITIES,
            "done": None,
            "error": None,
            **extra,
        },
    )


@routes.get("/admin")
async def admin_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/admin")
async def admin_change(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    form = await request.post()
    try:
        method, path, body = _change(form)
        await state.client.admin(method, path, body)
        d = await state.directory(refresh=True)
    except ExchangeError as exc:
        return await _page(request, error=exc.detail)
    done = {"what": f"{method} {path}", "version": d.version, "log_index": d.doc.get("log_index")}
    return await _page(request, done=done)
