"""Per-request id, one structured log line per request, and request metrics by route.

Every request passes here, so the per-request work is kept small (issue 19): the id is
16 random bytes in hex, the metric's child per (route, status) is looked up once.
"""

from __future__ import annotations

import logging
import os
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from exchange.api.app_keys import METRICS
from exchange.api.keys import CLIENT_ID
from exchange.logs import request_id

__all__ = ["request_log_middleware"]

log = logging.getLogger("exchange.request")

_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: metric family -> (route, status) -> its child; routes and statuses are finite
_CHILDREN: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], Any]] = weakref.WeakKeyDictionary()


def _count(family: Any, route: str, status: int) -> None:
    children = _CHILDREN.get(family)
    if children is None:
        children = _CHILDREN[family] = {}
    child = children.get((route, status))
    if child is None:
        child = children[(route, status)] = family.labels(route, str(status))
    child.inc()


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    rid = given if given and _ID.fullmatch(given) else os.urandom(16).hex()
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
        _count(request.app[METRICS].requests, route, status)
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
