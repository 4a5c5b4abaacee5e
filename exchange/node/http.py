"""The node's HTTP connection handling, which aiohttp leaves open by default: a deadline
on each request's headers and body (slow clients), compressed bodies refused, parser
refusals logged as one line, and a drain on shutdown (stop accepting, let requests
already received finish)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from exchange.api.problems import problem_response
from exchange.config import Limits
from exchange.errors import Unavailable

__all__ = ["HTTP_LOG", "Gate"]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _MalformedRequests(logging.Filter):
    """aiohttp answers a request its parser refuses (a header line over 8,190 bytes, too
    many headers, a bad method) with 400 and logs it as "Error handling request" at
    ERROR, with a traceback: any client could fill the logs with tracebacks. It is the
    peer's fault, so it becomes one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed request refused: %s", (type(exc).__name__,)
            record.exc_info, record.exc_text = None, None
        return True


#: the connection-level log of the node (aiohttp's RequestHandler logs here)
HTTP_LOG = logging.getLogger("exchange.http")
HTTP_LOG.addFilter(_MalformedRequests())

#: streams last until the server closes them; they are not requests to drain
_STREAM = "/v1/stream"


class Gate:
    """The requests a node is serving (streams aside), and its drain on shutdown."""

    def __init__(self) -> None:
        self.active = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Refuse new requests and wait up to ``seconds`` for those in progress.
        Returns whether every one finished."""
        self.draining = True
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def middleware(self, limits: Limits) -> Middleware:
        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.draining:  # a new request on a kept-alive connection
                resp = problem_response(Unavailable("server shutting down; retry shortly"))
                resp.force_close()
                return resp
            if request.path == _STREAM:
                return await handler(request)
            self.active += 1
            self._idle.clear()
            try:
                if request.body_exists:
                    if request.headers.get("Content-Encoding", "identity").lower() != "identity":
                        # Bodies are JOSE or JSON, never compressed; aiohttp would inflate
                        # a gzip bomb into memory before any size limit applies.
                        raise web.HTTPUnsupportedMediaType(text="content codings not accepted")
                    # aiohttp has no body deadline: a client sending a byte a second
                    # would hold a handler (and a concurrency slot) for weeks.
                    declared = min(request.content_length or limits.max_body, limits.max_body)
                    deadline = limits.body_timeout + declared / limits.body_min_rate
                    try:
                        async with asyncio.timeout(deadline):
                            await request.read()
                    except TimeoutError:
                        raise web.HTTPRequestTimeout() from None
                return await handler(request)
            finally:
                self.active -= 1
                if not self.active:
                    self._idle.set()

        return gate
