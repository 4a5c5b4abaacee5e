"""What every console view uses: the application keys of the profile's state and
rights, and :func:`render`. A module of its own so that the views and the application
factory (``console/app.py``, which adds the views' routes) both import it, and not each
other."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from exchange.client.expiry import client_warnings
from exchange.console import i18n
from exchange.console.security import SECRETS_KEY
from exchange.console.state import ConsoleState

__all__ = ["ADMIN_KEY", "POSTER_KEY", "STATE_KEY", "render"]

STATE_KEY = web.AppKey("console_state", ConsoleState)
ADMIN_KEY = web.AppKey("console_admin", bool)
POSTER_KEY = web.AppKey("console_poster", bool)


def render(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    state = request.app[STATE_KEY]
    base = {
        "party": state.party,
        "client_id": state.client.client_id,
        "lang": i18n.current(),
        "languages": i18n.LANGUAGES,
        "csrf": request.app[SECRETS_KEY].csrf,
        "is_admin": request.app[ADMIN_KEY],
        "can_post": request.app[POSTER_KEY],
        "can_read": state.can_read,
        "path": request.path_qs,
        "stream_error": state.stream_error,
        "key_warnings": client_warnings(state.client, use_profile=False),  # issue 18
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context})
    response.headers["Content-Language"] = i18n.current()
    return response
