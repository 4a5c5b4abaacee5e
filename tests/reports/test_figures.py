"""The report's figures against the small history of ``_small.py``, computed by hand,
through the real API on SQLite and PostgreSQL; and who may see which report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reports._small import BIDS, DEADLINE, T0, T0_DATE, rows
from support import Harness, Member

from exchange.client.reports import fetch_report
from exchange.errors import Forbidden, InputError, NotFound
from exchange.store import history

FROM = T0_DATE.isoformat()
TO = (T0_DATE + timedelta(days=6)).isoformat()  # the Sunday: one week, B5 outside


async def _world(h: Harness) -> dict[str, Member]:
    members = await h.cac()
    b, d, a = rows()
    await h.server.exchange.db.run_write(lambda c: history.bulk_history(c, b, d, a))
    return members


def _row(report: dict[str, Any], party: str, priority: str) -> dict[str, Any]:
    found = [r for r in report["recipients"] if (r["party"], r["priority"]) == (party, priority)]
    assert len(found) == 1, (party, priority, report["recipients"])
    return found[0]


def _times(row: dict[str, Any], step: str) -> tuple[int, float | None, float | None]:
    t = row["times"][step]
    return t["n"], t["median_s"], t["p90_s"]


async def test_group_report_figures(harness: Harness) -> None:
    m = await _world(harness)
    rep = await fetch_report(m["KZ"].client, group="cac-avsec", start=FROM, end=TO)
    assert rep["scope"] == {"kind": "group", "id": "cac-avsec"}
    assert rep["bucket"] == "week"
    # B1, B2 by KZ; B3 by UZ. B4 (TLP:RED, no group) and B5 (after TO) are not counted.
    assert rep["posted"] == [
        {"iss": "KZ", "type": "threat-assessment", "priority": "immediate", "count": 2},
        {"iss": "UZ", "type": "advisory", "priority": "flash", "count": 1},
    ]

    uz = _row(rep, "UZ", "immediate")  # B1, B2
    assert (uz["deliveries"], uz["delivered"], uz["acknowledged"]) == (2, 2, 2)
    assert _times(uz, "delivered") == (2, 20.0, 30.0)  # [10, 30]: mean 20; rank ceil(1.8)=2
    assert _times(uz, "received") == (2, 75.0, 90.0)  # [60, 90]
    assert _times(uz, "read") == (1, 300.0, 300.0)
    assert _times(uz, "actioned") == (1, 1800.0, 1800.0)
    # both acked within 3,600 s
    assert (uz["due"], uz["within_deadline"], uz["within_deadline_share"]) == (2, 2, 1.0)

    kg = _row(rep, "KG", "immediate")  # B1, B2
    assert _times(kg, "delivered") == (2, 30.0, 40.0)  # [20, 40]
    # B2's only ack is 'read' at 4000: it is also its receipt
    assert _times(kg, "received") == (2, 2060.0, 4000.0)  # [120, 4000]: (120+4000)/2
    assert _times(kg, "read") == (2, 5600.0, 7200.0)  # [4000, 7200]
    assert _times(kg, "actioned") == (0, None, None)
    # 120 <= 3600 in time, 4000 > 3600 late
    assert (kg["due"], kg["within_deadline"], kg["within_deadline_share"]) == (2, 1, 0.5)

    tj = _row(rep, "TJ", "immediate")  # B1 delivered 5, B2 never delivered; no ack
    assert (tj["deliveries"], tj["delivered"], tj["acknowledged"], tj["overdue"]) == (2, 1, 0, 2)
    assert _times(tj, "delivered") == (1, 5.0, 5.0)
    assert (tj["due"], tj["within_deadline"], tj["within_deadline_share"]) == (2, 0, 0.0)

    assert _row(rep, "KZ", "flash")["within_deadline_share"] == 1.0  # 100 <= 900
    assert _row(rep, "KG", "flash")["within_deadline_share"] == 0.0  # 1000 > 900
    tjf = _row(rep, "TJ", "flash")  # only 'actioned' at 500: received = read = actioned
    assert [_times(tjf, s) for s in ("received", "read", "actioned")] == [(1, 500.0, 500.0)] * 3
    assert tjf["within_deadline_share"] == 1.0

    kg_all = _row(rep, "KG", "all")  # B1, B2, B3: counts over priorities, no times
    assert kg_all["times"] is None
    assert (kg_all["deliveries"], kg_all["due"], kg_all["within_deadline"]) == (3, 3, 1)
    assert kg_all["within_deadline_share"] == 0.3333  # 1/3, four places
    tj_all = _row(rep, "TJ", "all")
    assert (tj_all["delivered"], tj_all["due"], tj_all["within_deadline"]) == (2, 3, 1)
    assert tj_all["overdue"] == 2
    assert {r["party"] for r in rep["recipients"]} == {"UZ", "KG", "TJ", "KZ"}

    # still overdue: TJ on B1 and B2, earliest deadline first, lateness from the deadline
    od = rep["overdue"]
    assert od["total"] == 2
    assert [(o["bid"], o["party"]) for o in od["items"]] == [(BIDS[1], "TJ"), (BIDS[2], "TJ")]
    gen = _ms(rep["generated_at"])
    assert od["items"][0]["late_s"] == (gen - (T0 + DEADLINE["immediate"])) / 1000

    # one week: 9 deliveries, all due; within: B1 UZ KG, B2 UZ, B3 KZ TJ
    (week,) = rep["trend"]
    assert week["period"] == f"{T0_DATE.isocalendar()[0]}-W{T0_DATE.isocalendar()[1]:02d}"
    assert (week["deliveries"], week["due"], week["within_deadline"]) == (9, 9, 5)
    assert week["acknowledged"] == 7  # all but TJ's two
    assert "median" in rep["definitions"] and "within_deadline" in rep["definitions"]


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def test_party_reports_hold_own_sending_and_receiving(harness: Harness) -> None:
    m = await _world(harness)
    kz = await fetch_report(m["KZ"].client, start=FROM, end=TO)  # no scope: own party
    assert kz["scope"] == {"kind": "party", "id": "KZ"}
    # B1, B2, B4 sent by KZ, B3 received by KZ
    assert sum(p["count"] for p in kz["posted"]) == 4
    uz = _row(kz, "UZ", "immediate")  # B1, B2 and the TLP:RED B4, all sent by KZ
    assert _times(uz, "delivered") == (3, 30.0, 50.0)  # [10, 30, 50]
    assert _times(uz, "received") == (3, 70.0, 90.0)  # [60, 70, 90]
    # KG's and TJ's flash rows belong to UZ's B3: not KZ's business
    assert {(r["party"], r["priority"]) for r in kz["recipients"] if r["priority"] != "all"} == {
        ("UZ", "immediate"),
        ("KG", "immediate"),
        ("TJ", "immediate"),
        ("KZ", "flash"),
    }

    kg = await fetch_report(m["KG"].client, party="KG", start=FROM, end=TO)
    # KG received B1, B2, B3; B4 (KZ to UZ only, TLP:RED) does not exist for KG
    assert sorted((p["iss"], p["type"]) for p in kg["posted"]) == [
        ("KZ", "threat-assessment"),
        ("UZ", "advisory"),
    ]
    assert {r["party"] for r in kg["recipients"]} == {"KG"}
    assert kg["overdue"]["total"] == 0

    admin = await fetch_report(harness.admin, start=FROM, end=TO)
    assert admin["scope"] == {"kind": "all", "id": None}
    assert sum(p["count"] for p in admin["posted"]) == 4  # B1-B4; B5 is after TO
    assert _row(admin, "UZ", "immediate")["deliveries"] == 3


async def test_who_may_see_which_report(harness: Harness) -> None:
    m = await _world(harness)
    # members and the chair see the group's report; an observer does not
    for p in ("KZ", "UZ", "KG"):
        assert (await fetch_report(m[p].client, group="cac-avsec"))["scope"]["id"] == "cac-avsec"
    with pytest.raises(Forbidden):
        await fetch_report(m["ICAO"].client, group="cac-avsec")
    # a State sees its own report only; the operator any
    with pytest.raises(Forbidden):
        await fetch_report(m["KG"].client, party="UZ")
    assert (await fetch_report(harness.admin, party="UZ"))["scope"]["id"] == "UZ"
    assert (await fetch_report(harness.admin, group="cac-avsec"))["scope"]["kind"] == "group"
    with pytest.raises(NotFound):
        await fetch_report(harness.admin, group="no-such-group")
    with pytest.raises(NotFound):
        await fetch_report(harness.admin, party="ZZ")
    # a non-member asking for an unknown group learns nothing more than "not yours"
    with pytest.raises(Forbidden):
        await fetch_report(m["KG"].client, group="no-such-group")


@pytest.mark.parametrize(
    "params",
    [
        {"group": "cac-avsec", "party": "KZ"},
        {"start": "2026-13-01"},
        {"start": "yesterday"},
        {"end": "2026-01-01T00:00:00"},  # no offset
        {"start": "2026-02-01", "end": "2026-01-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},  # beyond report_max_days
        {"bucket": "day"},
        {"group": "Bad Group"},
        {"party": "kz"},
    ],
)
async def test_bad_parameters_are_problems(harness: Harness, params: dict[str, str]) -> None:
    with pytest.raises(InputError):
        await fetch_report(harness.admin, **params)


async def test_unknown_and_repeated_parameters_are_refused(harness: Harness) -> None:
    for query in ("?grp=x", "?party=KZ&party=UZ", "?party=" + "A" * 70):
        with pytest.raises(InputError):
            await harness.admin.request("GET", "/v1/reports" + query)
