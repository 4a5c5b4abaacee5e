"""Compose: a form per bulletin type from its JSON Schema, a preview, then seal and post.

Sealing happens here, with the State's keys, never in the browser. A membership or key
change between preview and post is answered by the server with 422; the SDK re-seals
once to the fresh directory, as the CLI does."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from exchange.bulletin.validate import new_bulletin
from exchange.client.preview import postable_groups, recipients_for
from exchange.console import i18n
from exchange.console.forms import body_from_form, fields_for, parse_time, to_local_input
from exchange.console.page import STATE_KEY, render
from exchange.console.security import redirect
from exchange.console.words import EXPLAIN_PRIORITY, EXPLAIN_TLP
from exchange.errors import ExchangeError, InvalidBulletin
from exchange.vocab import PRIORITIES, SUBSCRIBERS, TLPS, TYPES

__all__ = ["bulletin_from_form", "compose_routes"]

compose_routes = web.RouteTableDef()
_LANGS = ("en", "ru", "kk", "ky", "tg", "uz", "az", "ka")


def bulletin_from_form(form: Mapping[str, Any], party: str, now: int) -> tuple[dict[str, Any], str]:
    """The bulletin the form describes, validated, and its type."""
    type_ = str(form.get("type", ""))
    if type_ not in TYPES:
        raise InvalidBulletin(f"type: must be one of {', '.join(TYPES)}")
    body = body_from_form(type_, form)
    getall = getattr(form, "getall", None)
    groups = [str(g) for g in getall("groups", [])] if getall else []
    to = [str(p) for p in getall("to", [])] if getall else []
    exp_text = str(form.get("exp", "")).strip()
    exp: Any = None
    if exp_text:
        exp = parse_time(exp_text)
    optional = {
        k: str(form.get(k, "")).strip() or None for k in ("supersedes", "handling", "in_reply_to")
    }
    bulletin = new_bulletin(
        iss=party,
        type=type_,
        title=str(form.get("title", "")).strip(),
        body=body,
        now=now,
        groups=groups,
        to=to,
        priority=str(form.get("priority", "routine")),
        tlp=str(form.get("tlp", "amber")),
        lang=str(form.get("lang", "en")).strip() or "en",
        exp=exp,
        supersedes=optional["supersedes"],
        handling=optional["handling"],
        in_reply_to=optional["in_reply_to"],
    )
    return bulletin, type_


async def _context(request: web.Request, form: Mapping[str, Any], type_: str) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    d = await state.directory()
    return {
        "type": type_,
        "types": TYPES,
        "fields": fields_for(type_),
        "form": form,
        "groups": [*await postable_groups(state.client), SUBSCRIBERS],
        "parties": [
            p
            for p in d.doc.get("parties", [])
            if p.get("id") != state.party and p.get("id") in d.active_kid
        ],
        "priorities": PRIORITIES,
        "tlps": TLPS,
        "explain_priority": EXPLAIN_PRIORITY,
        "explain_tlp": EXPLAIN_TLP,
        "langs": _LANGS,
        "sent": sorted(state.record.sent.values(), key=lambda s: s.seq, reverse=True)[:50],
        "errors": [],
        "preview": None,
        "preview_to": [],
    }


@compose_routes.get("/compose")
async def compose(request: web.Request) -> web.Response:
    q = request.query
    type_ = q.get("type", "threat-assessment")
    if type_ not in TYPES:
        type_ = "threat-assessment"
    now = int(time.time())
    defaults: MultiDict[str] = MultiDict(
        type=type_, priority="routine", tlp="amber", lang=i18n.current()
    )
    for key in ("in_reply_to", "supersedes"):
        if q.get(key):
            defaults[key] = q[key][:36]
    if type_ == "threat-assessment":
        defaults["body.valid_from"] = to_local_input(now)
        defaults["body.valid_until"] = to_local_input(now + 72 * 3600)
    if type_ == "security-measure":
        defaults["body.effective_from"] = to_local_input(now)
    if q.get("in_reply_to") and q.get("group"):
        defaults.add("groups", q["group"][:64])
    if q.get("in_reply_to") and q.get("sender"):
        defaults.add("to", q["sender"][:32])
    return render(request, "compose.html", await _context(request, MultiDictProxy(defaults), type_))


@compose_routes.post("/compose")
async def compose_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    form = await request.post()
    type_ = str(form.get("type", ""))
    if type_ not in TYPES:
        type_ = "threat-assessment"
    ctx = await _context(request, form, type_)
    if form.get("action") == "change-type":
        return render(request, "compose.html", ctx)
    try:
        bulletin, _ = bulletin_from_form(form, state.party, int(time.time()))
        if form.get("action") != "post":
            ctx["preview"] = bulletin
            ctx["preview_to"] = await recipients_for(state.client, bulletin)
            return render(request, "compose.html", ctx)
        receipt = await state.client.post(bulletin)
    except InvalidBulletin as exc:
        ctx["errors"] = exc.extra.get("errors") or [exc.detail]
        return render(request, "compose.html", ctx)
    except ExchangeError as exc:
        ctx["errors"] = [exc.detail]
        return render(request, "compose.html", ctx)
    state.record.add_sent(bulletin, receipt)
    return redirect(f"/sent/{receipt.bid}")
