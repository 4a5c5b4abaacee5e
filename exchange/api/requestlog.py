"""Per-request id, one structured log line per request, and request metrics by route."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from exchange.api.keys import CLIENT_ID, EXCHANGE
from exchange.logs import request_id

__all__ = ["request_log_middleware"]

log = logging.getLogger("exchange.request")

_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    rid = given if _ID.fullmatch(given) else uuid.uuid4().hex
    token = request_id.set(rid)
    start = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        if not resp.prepared:
            resp.headers["X-Request-Id"] = rid
        return resp
    finally:
        elapsed = time.perf_counter() - start
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        request.app[EXCHANGE].metrics.requests.labels(route, str(status)).inc()
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "client": request.get(CLIENT_ID, "-"),
            },
        )
        request_id.reset(token)
