"""The renderers (HTML, fragment, CSV, JSON) and ``exchange report``: hostile text stays
text, charts are images that cannot run script, and the files hold the figures."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from reports._small import T0_DATE, rows
from support import Harness

from exchange.cli.main import main
from exchange.client.reports import fetch_report
from exchange.keyfiles import profile_dir, read_profile, write_profile
from exchange.reports import render, render_csv, render_fragment, render_html
from exchange.store import history

EVIL = '<script>alert("x")</script>'


def _hostile(report: dict[str, Any]) -> dict[str, Any]:
    """Every text field a renderer shows, replaced by markup or a spreadsheet formula
    (the server validates ids; the renderer must not rely on it)."""
    r = json.loads(json.dumps(report))
    for row in r["recipients"]:
        row["party"] = EVIL
    for p in r["posted"]:
        p["iss"], p["type"] = EVIL, '=HYPERLINK("http://evil")'
    for o in r["overdue"]["items"]:
        o["bid"] = '"><img src=x onerror=alert(1)>'
        o["party"] = "@SUM(A1)"
    for s in r["reachability"]:
        s["party"] = EVIL
    r["definitions"]["<b>x</b>"] = EVIL
    r["scope"]["id"] = EVIL
    return r


async def _report(h: Harness) -> dict[str, Any]:
    await h.cac()
    b, d, a = rows()
    await h.server.exchange.db.run_write(lambda c: history.bulk_history(c, b, d, a))
    return await fetch_report(h.admin, group="cac-avsec", start=T0_DATE.isoformat())


async def test_html_escapes_everything_and_runs_no_script(harness: Harness) -> None:
    report = _hostile(await _report(harness))
    page = await asyncio.to_thread(render_html, report)
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\"" in page
    # the charts are images (an SVG as <img> runs no script) and escape their labels
    uris = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 4
    svgs = [base64.b64decode(u).decode() for u in uris]
    assert all("<script" not in s for s in svgs)
    assert any("&lt;script&gt;" in s for s in svgs)
    assert "@media print" in page and "break-inside: avoid" in page

    fragment = await asyncio.to_thread(render_fragment, report)
    assert fragment.startswith('<section class="avsec-report">')
    assert "<html" not in fragment and "<style" not in fragment and "<script" not in fragment


async def test_csv_holds_the_figures_and_defuses_formulas(harness: Harness) -> None:
    report = await _report(harness)
    text = render_csv(report)
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for line in csv.reader(io.StringIO(text)):
        if len(line) == 1:
            current = sections.setdefault(line[0], [])
        elif line:
            current.append(line)
    head, *body = sections["recipients"]
    kg = dict(zip(head, next(r for r in body if r[:2] == ["KG", "immediate"]), strict=True))
    # the hand-computed figures of test_figures.py
    assert (kg["to_received_median_s"], kg["to_received_p90_s"]) == ("2060.0", "4000.0")
    assert kg["within_deadline_share"] == "0.5"
    assert sections["overdue"][1][0] == "TJ"

    hostile = render_csv(_hostile(report))
    cells = [c for line in csv.reader(io.StringIO(hostile)) for c in line]
    assert '\'=HYPERLINK("http://evil")' in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "@", "+")) for c in cells)
    assert json.loads(render(report, "json")) == report


async def test_exchange_report_command_writes_each_format(harness: Harness, tmp_path: Path) -> None:
    await _report(harness)
    folder = profile_dir(harness.keys_dir, "OPERATOR/admin")
    write_profile(folder, replace(read_profile(folder), server_url=harness.url))
    html, csv_file = tmp_path / "r.html", tmp_path / "r.csv"
    base = ["report", "--profile", str(folder), "--group", "cac-avsec"]
    span = ["--from", T0_DATE.isoformat(), "--to", T0_DATE.isoformat()]
    assert await asyncio.to_thread(main, [*base, *span, "-o", str(html)]) == 0
    assert await asyncio.to_thread(main, [*base, *span, "-o", str(csv_file)]) == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "group cac-avsec" in page
    assert csv_file.read_bytes().startswith(b"report\r\nscope,id,from,to,")
    # a bad date is one line and exit 1, not a traceback
    assert await asyncio.to_thread(main, [*base, "--from", "someday"]) == 1
    # a State cannot ask for another's report: refused by the server, exit 1
    assert await asyncio.to_thread(main, [*base[:3], "--party", "ZZ"]) == 1
