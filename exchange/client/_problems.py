"""Turn a problem+json answer back into the library's own error class."""

from __future__ import annotations

from typing import Any

from exchange import errors

__all__ = ["error_from_problem"]


def _classes() -> dict[str, type[errors.ExchangeError]]:
    out: dict[str, type[errors.ExchangeError]] = {}
    stack: list[type[errors.ExchangeError]] = [errors.ExchangeError]
    while stack:
        cls = stack.pop()
        out.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return out


_BY_CODE = _classes()


def error_from_problem(status: int, problem: Any) -> errors.ExchangeError:
    if not isinstance(problem, dict):
        problem = {}
    type_uri = str(problem.get("type", ""))
    code = type_uri.removeprefix("urn:avsec:error:")
    cls = _BY_CODE.get(code, errors.ExchangeError)
    extra = {k: v for k, v in problem.items() if k not in ("type", "title", "status", "detail")}
    if cls is errors.RateLimited:
        return errors.RateLimited(str(problem.get("detail") or ""), retry_after=1)
    err = cls(str(problem.get("detail") or f"HTTP {status}"), **extra)
    if err.status != status:
        err.status = status  # type: ignore[misc]
    return err
