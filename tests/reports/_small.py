"""A small hand-made history with fixed times, whose report figures are computed by hand
in tests/reports/test_figures.py.

T0 is a Monday 00:00 UTC, 14 to 20 days ago. Ack deadlines: immediate 3,600 s, flash
900 s (the defaults). Times below are seconds after the bulletin's acceptance.

- B1 KZ -> cac-avsec, threat-assessment, immediate, accepted T0:
  UZ delivered 10, received 60, read 300, actioned 1800;
  KG delivered 20, received 120, read 7200; TJ delivered 5, no ack.
- B2 KZ -> cac-avsec, threat-assessment, immediate, accepted T0 + 1 day:
  UZ delivered 30, received 90; KG delivered 40, read (only) 4000; TJ never delivered,
  no ack.
- B3 UZ -> cac-avsec, advisory, flash, accepted T0 + 2 days:
  KZ delivered 2, received 100; KG delivered 4, received 1000; TJ delivered 8,
  actioned (only) 500.
- B4 KZ -> to UZ only, request, immediate, TLP:RED, accepted T0 + 3 days:
  UZ delivered 50, received 70.
- B5 KZ -> cac-avsec, advisory, immediate, accepted T0 + 10 days (outside the period):
  UZ delivered 5, no ack.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exchange.store import history

__all__ = ["BIDS", "T0", "rows"]

_today = datetime.fromtimestamp(time.time(), UTC).date()
_monday = _today - timedelta(days=_today.weekday() + 14)
T0_DATE: date = _monday
T0 = int(datetime(_monday.year, _monday.month, _monday.day, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
DEADLINE = {"immediate": 3_600_000, "flash": 900_000}
BIDS = {n: f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6)}

# (n, iss, type, priority, tlp, groups, to, accepted offset ms, {party: (delivered s, {status: s})})
_HISTORY: list[tuple[Any, ...]] = [
    (
        1,
        "KZ",
        "threat-assessment",
        "immediate",
        "amber",
        ["cac-avsec"],
        [],
        0,
        {
            "UZ": (10, {"received": 60, "read": 300, "actioned": 1800}),
            "KG": (20, {"received": 120, "read": 7200}),
            "TJ": (5, {}),
        },
    ),
    (
        2,
        "KZ",
        "threat-assessment",
        "immediate",
        "amber",
        ["cac-avsec"],
        [],
        DAY,
        {"UZ": (30, {"received": 90}), "KG": (40, {"read": 4000}), "TJ": (None, {})},
    ),
    (
        3,
        "UZ",
        "advisory",
        "flash",
        "green",
        ["cac-avsec"],
        [],
        2 * DAY,
        {"KZ": (2, {"received": 100}), "KG": (4, {"received": 1000}), "TJ": (8, {"actioned": 500})},
    ),
    (4, "KZ", "request", "immediate", "red", [], ["UZ"], 3 * DAY, {"UZ": (50, {"received": 70})}),
    (5, "KZ", "advisory", "immediate", "amber", ["cac-avsec"], [], 10 * DAY, {"UZ": (5, {})}),
]


def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    bulletins, deliveries, acks = [], [], []
    for n, iss, type_, prio, tlp, groups, to, offset, recips in _HISTORY:
        acc = T0 + offset
        bid = BIDS[n]
        # seq far above what the live server uses, so the two never collide
        seq = 1_000_000 + n
        bulletins.append(
            history.history_bulletin(
                seq,
                bid,
                iss,
                type_=type_,
                priority=prio,
                tlp=tlp,
                groups=groups,
                to=to,
                recipients=list(recips),
                accepted_at=acc,
            )
        )
        for party, (delivered, statuses) in recips.items():
            deliveries.append(
                {
                    "party": party,
                    "seq": seq,
                    "bid": bid,
                    "priority": prio,
                    "deadline": acc + DEADLINE[prio],
                    "delivered_at": None if delivered is None else acc + delivered * 1000,
                    "escalated_at": None,
                }
            )
            for status, at in statuses.items():
                acks.append(
                    {
                        "bid": bid,
                        "party": party,
                        "status": status,
                        "client_id": f"{party}/ops",
                        "iat": (acc + at * 1000) // 1000,
                        "received_at": acc + at * 1000,
                        "jws": "",
                        "log_index": 0,
                    }
                )
    return bulletins, deliveries, acks
