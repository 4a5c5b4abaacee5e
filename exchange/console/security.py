"""The console's own defences: loopback only, a per-launch secret, no cross-site writes.

- The printed URL carries a launch token; ``/login`` exchanges it for a session cookie
  (HttpOnly, SameSite=Strict) and redirects, so the token leaves the address bar.
- Every request but ``/login`` and the static files needs the cookie.
- ``Host`` must be the loopback address the console listens on (no DNS rebinding).
- Every state-changing request needs a same-origin ``Origin`` and the session's CSRF
  token in its form.
- Every answer carries a strict Content-Security-Policy: scripts and styles only from
  the console itself, nothing inline, no framing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

__all__ = [
    "COOKIE",
    "CSP",
    "CSP_DATA_IMAGES",
    "DATA_IMAGES",
    "SECRETS_KEY",
    "Secrets",
    "csrf_of",
    "redirect",
    "security_middleware",
]

COOKIE = "avsec_console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: the Reports page only: its charts are ``<img>`` with ``data:`` SVG URIs (an image runs
#: no script); every other answer keeps ``img-src 'self'``
CSP_DATA_IMAGES = CSP.replace("img-src 'self'", "img-src 'self' data:")
#: a handler sets ``response[DATA_IMAGES] = True`` to get :data:`CSP_DATA_IMAGES`
DATA_IMAGES = web.ResponseKey("console_data_images", bool)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPEN_PATHS = ("/login", "/static/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Secrets:
    """Fresh at every launch: nothing survives a restart of the console."""

    launch_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    hosts: frozenset[str] = frozenset()

    def allow_port(self, port: int) -> None:
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})

    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{h}" for h in self.hosts)


SECRETS_KEY = web.AppKey("console_secrets", Secrets)


def csrf_of(request: web.Request) -> str:
    return request.app[SECRETS_KEY].csrf


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


async def _check(request: web.Request, s: Secrets, handler: Handler) -> web.StreamResponse:
    if request.host not in s.hosts:
        return _refuse(421, "This console answers only on its loopback address.")
    if request.path == "/login":
        if not _same(request.query.get("token"), s.launch_token):
            return _refuse(403, "Wrong or missing token: open the URL 'exchange console' printed.")
        response = redirect("/")
        response.set_cookie(COOKIE, s.session, httponly=True, samesite="Strict", path="/")
        return response
    if request.path.startswith("/static/"):
        return await handler(request)
    if not _same(request.cookies.get(COOKIE), s.session):
        return _refuse(401, "Not signed in: open the URL 'exchange console' printed.")
    if request.method not in _SAFE_METHODS:
        if request.headers.get("Origin") not in s.origins():
            return _refuse(403, "Cross-site request refused.")
        form = await request.post()
        if not _same(str(form.get("csrf", "")) or None, s.csrf):
            return _refuse(403, "Missing or wrong form token: reload the page and try again.")
    return await handler(request)


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    s = request.app[SECRETS_KEY]
    try:
        response = await _check(request, s, handler)
    except web.HTTPException as exc:  # aiohttp's own 404/405 and the like
        response = _refuse(exc.status, exc.reason)
    wide = response.get(DATA_IMAGES) is True
    response.headers["Content-Security-Policy"] = CSP_DATA_IMAGES if wide else CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser fetches ``location`` with GET."""
    return web.Response(status=303, headers={"Location": location})
