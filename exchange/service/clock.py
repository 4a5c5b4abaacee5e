"""The one place the server reads the clock, so tests can move it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["Clock", "iso_ms"]


class Clock:
    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def seconds(self) -> int:
        return int(self.now())

    def ms(self) -> int:
        return int(self.now() * 1000)


def iso_ms(ms: int | None) -> str | None:
    """Server times on the wire: RFC 3339 UTC with milliseconds."""
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
