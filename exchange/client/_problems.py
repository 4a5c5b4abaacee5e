"""Turn a problem+json answer back into the library's own error class."""

from __future__ import annotations

from typing import Any

from exchange import errors

__all__ = ["error_from_problem", "retry_after_seconds"]

_MEMBERS = ("type", "title", "status", "detail")
#: a server asking for a longer pause than this is waited for this long at most
MAX_RETRY_AFTER = 3600


def retry_after_seconds(value: str | None) -> int:
    """RFC 9110 §10.2.3 ``Retry-After`` as whole seconds (at least 1, at most an hour).
    An HTTP date or garbage counts as 1 s: the exchange only ever sends seconds."""
    try:
        seconds = int((value or "").strip())
    except ValueError:
        return 1
    return min(max(seconds, 1), MAX_RETRY_AFTER)


def error_from_problem(
    status: int, problem: Any, *, retry_after: str | None = None
) -> errors.ExchangeError:
    """The class named by the problem's ``type`` (the explicit registry
    ``errors.BY_CODE``), else the class of the HTTP status; 429 and 503 carry
    ``retry_after`` from the ``Retry-After`` header."""
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("type", "")).removeprefix("urn:avsec:error:")
    cls = errors.BY_CODE.get(code) or errors.class_for_status(status)
    detail = str(problem.get("detail") or f"HTTP {status}")
    extra = {k: v for k, v in problem.items() if k not in _MEMBERS}
    if issubclass(cls, (errors.RateLimited, errors.StorageError)):
        return cls(detail, retry_after=retry_after_seconds(retry_after), **extra)
    return cls(detail, **extra)
