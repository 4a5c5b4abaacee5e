"""The Reports page (issue 14): the effectiveness report of the officer's party and of
each group it belongs to, with the same figures and charts as ``exchange report --format
html``, fetched through the SDK (``GET /v1/reports``) and drawn by the report renderers.

The report body is the renderers' fragment template, included in the console's own
environment and so autoescaped like every page (names and anything else from other
States are text); its charts are ``<img>`` with ``data:`` SVG URIs, which run no script.
Only this page's answer allows ``img-src data:``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from exchange.client.reports import fetch_report
from exchange.console import i18n
from exchange.console.page import ADMIN_KEY, STATE_KEY, render
from exchange.console.security import DATA_IMAGES
from exchange.errors import ExchangeError
from exchange.reports import CSS, render_csv, render_html, report_context
from exchange.vocab import POSTING_ROLES

__all__ = ["Choice", "routes", "scopes"]

routes = web.RouteTableDef()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: the period the page opens with: the 90 days up to today (the server's default too)
DEFAULT_DAYS = 90
#: quick periods (each takes the plural "дней" in Russian, as the catalogue has it)
_PRESETS = (30, 90, 365)


class Choice:
    """One report the officer may open: ``key`` in the query, the SDK's arguments."""

    def __init__(self, key: str, label: str, group: str | None = None, party: str | None = None):
        self.key = key
        self.label = label
        self.group = group
        self.party = party


async def scopes(request: web.Request) -> list[Choice]:
    """The officer's own party, each group it is a member or chair of (by the signed
    directory), and for the operator the whole exchange."""
    state = request.app[STATE_KEY]
    admin = request.app[ADMIN_KEY]
    out = [Choice("all", i18n.gettext("The whole exchange"))] if admin else []
    d = await state.directory(refresh=True)  # a group joined since the last page
    if not admin:
        names = {p.get("id"): p.get("name") for p in d.doc.get("parties", [])}
        me = {"party": state.party, "name": names.get(state.party) or state.party}
        out.append(Choice("party", i18n.gettext("My State: %(name)s (%(party)s)") % me))
    for g in d.doc.get("groups", []):
        roles = {m.get("party"): m.get("role") for m in g.get("members", [])}
        if admin or roles.get(state.party) in POSTING_ROLES:
            gid = str(g.get("id"))
            label = i18n.gettext("Group %(g)s: %(name)s") % {"g": gid, "name": g.get("name", "")}
            out.append(Choice("group:" + gid, label, group=gid))
    return out


def _day(value: str | None) -> str | None:
    """A ``YYYY-MM-DD`` from the query, or None (anything else is ignored)."""
    if value is None or not _DATE.fullmatch(value):
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return None
    return value


def _period(request: web.Request) -> tuple[str, str]:
    today = datetime.now(UTC).date()
    end = _day(request.query.get("to")) or today.isoformat()
    start = _day(request.query.get("from"))
    if start is None:
        start = (date.fromisoformat(end) - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    return start, end


async def _fetch(request: web.Request) -> tuple[list[Choice], Choice, str, str, dict[str, Any]]:
    choices = await scopes(request)
    key = request.query.get("scope", choices[0].key)
    choice = next((c for c in choices if c.key == key), None)
    if choice is None:
        raise web.HTTPNotFound()
    start, end = _period(request)
    state = request.app[STATE_KEY]
    report = await fetch_report(
        state.client, group=choice.group, party=choice.party, start=start, end=end
    )
    return choices, choice, start, end, report


def _query(choice: Choice, start: str, end: str) -> dict[str, str]:
    return {"scope": choice.key, "from": start, "to": end}


@routes.get("/reports")
async def reports_page(request: web.Request) -> web.Response:
    today = datetime.now(UTC).date()
    presets = [
        ((today - timedelta(days=n - 1)).isoformat(), today.isoformat(), n) for n in _PRESETS
    ]
    try:
        choices, choice, start, end, report = await _fetch(request)
    except ExchangeError as exc:
        choices = await scopes(request)
        key = request.query.get("scope", choices[0].key)
        start, end = _period(request)
        context = {"choices": choices, "key": key, "start": start, "end": end}
        response = render(
            request, "reports.html", {**context, "presets": presets, "error": exc.detail}
        )
        response.set_status(exc.status if exc.status < 500 else 502)
        return response
    # the renderers' fragment, included in reports.html and escaped by the console's own
    # environment; its only images are the charts' data: SVGs
    response = render(
        request,
        "reports.html",
        {
            "choices": choices,
            "key": choice.key,
            "start": start,
            "end": end,
            "presets": presets,
            "query": _query(choice, start, end),
            **report_context(report),
            "error": None,
        },
    )
    response[DATA_IMAGES] = True
    return response


def _download(text: str, name: str, content_type: str) -> web.Response:
    return web.Response(
        text=text,
        content_type=content_type,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _filename(choice: Choice, start: str, end: str, ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", choice.key)  # a group id comes from the directory
    return f"report-{safe}-{start}-{end}.{ext}"


@routes.get("/reports/report.html")
async def report_html(request: web.Request) -> web.Response:
    _, choice, start, end, report = await _fetch(request)
    return _download(render_html(report), _filename(choice, start, end, "html"), "text/html")


@routes.get("/reports/report.csv")
async def report_csv(request: web.Request) -> web.Response:
    _, choice, start, end, report = await _fetch(request)
    return _download(render_csv(report), _filename(choice, start, end, "csv"), "text/csv")


@routes.get("/reports/report.css")
async def report_css(request: web.Request) -> web.Response:
    """The report's style sheet, from the console itself (the CSP allows no inline style)."""
    return web.Response(text=CSS, content_type="text/css", charset="utf-8")
