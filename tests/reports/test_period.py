"""Report periods: dates and times accepted, trend buckets on calendar boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exchange.errors import InputError
from exchange.service.reports import parse_time, period_bounds


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_dates_and_times() -> None:
    assert parse_time("2026-03-31", "from") == _ms(2026, 3, 31)
    assert parse_time("2026-03-31", "to", end=True) == _ms(2026, 4, 1)  # the day included
    assert parse_time("2026-03-31T10:00:00+02:00", "to") == _ms(2026, 3, 31, 8)
    assert parse_time("2026-03-31T08:00:00Z", "to") == _ms(2026, 3, 31, 8)
    for bad in ("2026-02-30", "31/03/2026", "2026-03-31T08:00:00", "", "now", "2026-03-31 x"):
        with pytest.raises(InputError):
            parse_time(bad, "from")


def test_week_and_month_buckets() -> None:
    # Wednesday 2026-01-07 to Wednesday 2026-01-21: Mondays 12 and 19 January
    lo, hi = _ms(2026, 1, 7, 15), _ms(2026, 1, 21)
    assert period_bounds(lo, hi, "week") == [lo, _ms(2026, 1, 12), _ms(2026, 1, 19)]
    # mid-November to mid-February: 1 December, 1 January, 1 February
    lo, hi = _ms(2025, 11, 15), _ms(2026, 2, 15)
    assert period_bounds(lo, hi, "month") == [
        lo,
        _ms(2025, 12, 1),
        _ms(2026, 1, 1),
        _ms(2026, 2, 1),
    ]
    # a boundary equal to the end opens no empty period
    assert period_bounds(_ms(2026, 1, 1), _ms(2026, 2, 1), "month") == [_ms(2026, 1, 1)]
