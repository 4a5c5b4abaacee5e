"""The console's aiohttp application: templates, filters, security, routes.

Server-rendered pages (aiohttp-jinja2, autoescape on everywhere) and one small script
file; see docs/adr/0007-console-server-rendered.md."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from exchange.console import admin_views, compose, i18n, reports_view, views
from exchange.console.forms import LABELS
from exchange.console.page import ADMIN_KEY, POSTER_KEY, STATE_KEY, render
from exchange.console.security import SECRETS_KEY, Secrets, security_middleware
from exchange.console.state import ConsoleState
from exchange.console.words import WORDS
from exchange.errors import ExchangeError
from exchange.reports import FILTERS as REPORT_FILTERS
from exchange.reports import FRAGMENT as REPORT_FRAGMENT
from exchange.vocab import AFTN_PRIORITY

__all__ = ["make_app"]

_log = logging.getLogger("exchange.console")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def when(value: Any) -> str:
    """Seconds since the epoch as ``2026-12-03 10:24Z``; anything else as a dash."""
    if not isinstance(value, int) or isinstance(value, bool):
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%MZ")


def server_time(value: Any) -> str:
    """A server time (RFC 3339 with ms) to the minute, or a dash."""
    if not isinstance(value, str) or len(value) < 16:
        return "-"
    return value[:16].replace("T", " ") + "Z"


def word(value: Any) -> str:
    """A vocabulary value in the page's language."""
    text = str(value)
    return i18n.gettext(WORDS[text]) if text in WORDS else text


def aftn(priority: Any) -> str:
    return AFTN_PRIORITY.get(str(priority), "")


def tlp_class(tlp: Any) -> str:
    return "tlp-" + str(tlp).replace("+", "-")


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("exchange.console", "templates"),
                # the report body of the Reports page, rendered here with this autoescape
                jinja2.DictLoader({"report_fragment.html": REPORT_FRAGMENT}),
            ]
        ),
        autoescape=True,  # every template, whatever its name: content is hostile
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        when=when,
        server_time=server_time,
        word=word,
        aftn=aftn,
        tlp_class=tlp_class,
        pretty=pretty,
        **REPORT_FILTERS,
    )
    env.globals.update(
        label=label,
        vocab_keys=_VOCAB_KEYS,
        code_keys=_CODE_KEYS,
        time_keys=_TIME_KEYS,
    )
    return env


_VOCAB_KEYS = frozenset(
    {
        "threat_level",
        "categories",
        "confidence",
        "likelihood",
        "consequence",
        "residual_vulnerability",
        "residual_risk",
    }
)
_CODE_KEYS = frozenset({"locations", "firs", "aerodromes", "airports", "routes", "flights"})
_TIME_KEYS = frozenset(
    {"valid_from", "valid_until", "effective_from", "effective_until", "respond_by"}
)


def label(key: Any) -> str:
    """A body field's label in the page's language."""
    text = str(key)
    return i18n.gettext(LABELS[text]) if text in LABELS else text


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pick the page language, and turn any failure into a readable page, never a trace."""
    i18n.use(
        i18n.pick(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("Accept-Language"))
    )
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except ExchangeError as exc:
        response = render(request, "problem.html", {"detail": exc.detail, "back": "/inbox"})
        response.set_status(exc.status if exc.status < 500 else 502)
        return response
    except Exception:
        _log.exception("console: internal error on %s %s", request.method, request.path)
        response = render(
            request,
            "problem.html",
            {"detail": i18n.gettext("Internal error: see the console's log."), "back": "/inbox"},
        )
        response.set_status(500)
        return response


def make_app(
    state: ConsoleState, secrets: Secrets, *, admin: bool, poster: bool = True
) -> web.Application:
    """The console for one profile; ``admin`` adds the operator's pages, ``poster`` the
    compose and sent pages."""
    app = web.Application(middlewares=[security_middleware, language_middleware])
    app[STATE_KEY] = state
    app[SECRETS_KEY] = secrets
    app[ADMIN_KEY] = admin
    app[POSTER_KEY] = poster
    app[aiohttp_jinja2.APP_KEY] = _environment()
    app.add_routes(views.routes)
    app.add_routes(reports_view.routes)
    if poster:
        app.add_routes(compose.compose_routes)
    app.router.add_get("/favicon.ico", _no_icon)
    if admin:
        app.add_routes(admin_views.routes)
    static = str(_static_dir())
    app.router.add_static("/static/", static, show_index=False, follow_symlinks=False)
    return app


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


def _static_dir() -> Any:
    from importlib.resources import files

    return files("exchange.console").joinpath("static")
