"""RFC 9457 problem+json for every error; never a stack trace on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from exchange.errors import ExchangeError, RateLimited, StorageError, class_for_status

__all__ = ["problem_middleware", "problem_response"]

log = logging.getLogger("exchange.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem_response(err: ExchangeError, *, headers: dict[str, str] | None = None) -> web.Response:
    headers = dict(headers or {})
    if isinstance(err, (RateLimited, StorageError)):
        headers["Retry-After"] = str(err.retry_after)
    elif err.status == 401:
        headers["WWW-Authenticate"] = "Bearer"  # RFC 9110 §15.5.2: a 401 MUST carry it
    return web.Response(
        status=err.status,
        body=json.dumps(err.problem()).encode(),
        content_type="application/problem+json",
        headers=headers,
    )


_HTTP_DETAIL = {
    413: "request body exceeds the configured maximum",
    404: "no such resource",
    405: "method not allowed on this resource",
}


def _from_http(exc: web.HTTPException) -> ExchangeError:
    """aiohttp's own refusals (routing, body size, the node's gate) in the one tree."""
    return class_for_status(exc.status)(_HTTP_DETAIL.get(exc.status) or exc.reason or "bad request")


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ExchangeError as err:
        if err.status >= 500:
            log.warning("%s %s -> %s: %s", request.method, request.path, err.status, err.code)
        return problem_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = exc.headers.get("Allow")  # RFC 9110 §15.5.6: a 405 MUST carry it
        return problem_response(_from_http(exc), headers={"Allow": allow} if allow else None)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(ExchangeError("internal error"))
