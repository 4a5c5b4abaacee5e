"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from exchange.api import (
    routes_admin,
    routes_alerts,
    routes_audit,
    routes_bulletins,
    routes_directory,
    routes_keys,
    routes_policy,
    routes_reports,
    routes_sent,
    routes_stream,
)
from exchange.api.app_keys import SOCKETS, install
from exchange.api.openapi import routes as openapi_routes
from exchange.api.problems import problem_middleware, problem_response
from exchange.api.requestlog import request_log_middleware
from exchange.errors import ExchangeError, Unavailable
from exchange.service import notify
from exchange.service.core import Exchange

__all__ = ["create_app"]

log = logging.getLogger("exchange.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _concurrency_middleware(limit: int) -> Any:
    in_flight = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if request.path == "/v1/stream":
            return await handler(request)
        if in_flight >= limit:
            return problem_response(Unavailable("too many requests in flight; retry shortly"))
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return middleware


async def _every(seconds: float, job: Callable[[], Awaitable[None]], name: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except ExchangeError as exc:
            log.warning("%s failed: %s", name, exc.code)
        except Exception:
            log.exception("%s failed", name)


def create_app(ex: Exchange, *, own_db: bool = True) -> web.Application:
    """An application serving PROTOCOL §7 for ``ex``. With ``own_db`` the app closes the
    database on cleanup."""
    app = web.Application(
        client_max_size=ex.limits.max_body,
        middlewares=[
            request_log_middleware,
            problem_middleware,
            _concurrency_middleware(ex.limits.max_concurrency),
        ],
    )
    install(app, ex)
    ex.db.observe = lambda kind, seconds: ex.metrics.db_latency.labels(kind).observe(seconds)
    app[SOCKETS] = set()
    for module_routes in (
        routes_directory.routes,
        routes_admin.routes,
        routes_keys.routes,  # issue 18
        routes_policy.routes,
        routes_bulletins.routes,
        routes_sent.routes,
        routes_stream.routes,
        routes_audit.routes,
        routes_reports.routes,
        routes_alerts.routes,
        openapi_routes,
    ):
        app.add_routes(module_routes)

    async def _escalate() -> None:
        await ex.delivery.escalate()

    async def _summaries() -> None:
        await ex.reports.refresh_summaries()

    async def background(app: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_every(60.0, ex.auth.prune, "jti pruning")),
            asyncio.create_task(_every(ex.config.escalation_interval, _escalate, "escalation")),
            asyncio.create_task(ex.marker.run()),
            asyncio.create_task(_every(60.0, ex.seen.flush, "last-seen marks")),
            asyncio.create_task(_every(60.0, _summaries, "report summaries")),
        ]
        if not ex.db.is_sqlite:  # several nodes may share the database
            tasks.append(asyncio.create_task(notify.listen(ex.db, ex.hub)))
        poll_interval = ex.config.poll_interval
        if poll_interval is None:
            poll_interval = 0.0 if ex.db.is_sqlite else 2.0
        if poll_interval > 0:
            newest = await ex.delivery.latest_seq()  # streams read their backlog on connect

            async def poll() -> None:
                """Wake streams only when a bulletin was accepted since the last look
                (one query per node, not one per stream)."""
                nonlocal newest
                latest = await ex.delivery.latest_seq()
                if latest != newest:
                    newest = latest
                    ex.hub.wake_all()

            tasks.append(asyncio.create_task(_every(poll_interval, poll, "poll")))
        yield
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await ex.marker.flush()
        if own_db:
            await ex.db.close()

    async def on_shutdown(app: web.Application) -> None:
        """Close every stream with 1001 at once; a reader that does not read cannot hold
        the shutdown beyond the send timeout (its connection is then dropped)."""
        open_sockets: set[web.WebSocketResponse[bool]] = app[SOCKETS]

        async def close(ws: web.WebSocketResponse[bool]) -> None:
            async with asyncio.timeout(ex.limits.ws_send_timeout):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

        await asyncio.gather(*(close(ws) for ws in list(open_sockets)), return_exceptions=True)

    app.cleanup_ctx.append(background)
    app.on_shutdown.append(on_shutdown)
    return app
