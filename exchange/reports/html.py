"""The HTML report: one self-contained file (styles inline, charts as ``data:`` images,
no script), readable on screen and on paper; and the same body as a fragment for a
page that brings its own frame (the console)."""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from exchange.reports._templates import CSS, FRAGMENT, PAGE
from exchange.reports.charts import charts
from exchange.vocab import PRIORITIES, TYPES

__all__ = [
    "CSS",
    "FILTERS",
    "FRAGMENT",
    "duration",
    "render_fragment",
    "render_html",
    "report_context",
    "title_of",
]


def duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.1 d``; an en dash when there is no value."""
    if seconds is None:
        return "\u2013"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _pct(share: float | None) -> str:
    return "\u2013" if share is None else f"{100 * share:.0f}%"


def _reach(s: dict[str, Any]) -> str:
    if not s["quiet"]:
        return "reachable"
    days = s["days_since_seen"]
    return "quiet, never seen" if days is None else f"quiet for {days:g} days"


def _share_class(share: float | None) -> str:
    if share is None:
        return ""
    return "ok" if share >= 0.9 else "bad" if share < 0.5 else ""


_ENV = jinja2.Environment(
    loader=jinja2.DictLoader({"fragment.html": FRAGMENT, "page.html": PAGE}),
    autoescape=True,  # every value is escaped: report text comes from other States
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: the filters :data:`FRAGMENT` uses, for a page that includes it in its own environment
#: (the console: its autoescaping then covers the report too)
FILTERS = {"duration": duration, "pct": _pct, "share_class": _share_class, "reach": _reach}
_ENV.filters.update(FILTERS)


def title_of(report: dict[str, Any]) -> str:
    scope = report["scope"]
    if scope["kind"] == "group":
        return f"Exchange effectiveness report: group {scope['id']}"
    if scope["kind"] == "party":
        return f"Exchange effectiveness report: {scope['id']}"
    return "Exchange effectiveness report: the whole exchange"


#: overdue deliveries listed in the HTML (the CSV and JSON hold all the server sent)
HTML_OVERDUE = 40


def _pivot(posted: list[dict[str, Any]], key: str, columns: tuple[str, ...]) -> list[Any]:
    """Bulletins per sender (rows) and priority or type (columns), with totals."""
    senders = sorted({p["iss"] for p in posted})
    rows = []
    for sender in senders:
        counts = [
            sum(p["count"] for p in posted if p["iss"] == sender and p[key] == c) for c in columns
        ]
        rows.append((sender, counts, sum(counts)))
    totals = [sum(r[1][i] for r in rows) for i in range(len(columns))]
    rows.append(("all", totals, sum(totals)))
    return rows


def report_context(report: dict[str, Any]) -> dict[str, Any]:
    """What :data:`FRAGMENT` is rendered with (charts drawn here)."""
    totals = [r for r in report["recipients"] if r["priority"] == "all"]
    due = sum(r["due"] for r in totals)
    within = sum(r["within_deadline"] for r in totals)
    return {
        "r": report,
        "title": title_of(report),
        "charts": charts(report, PRIORITIES),
        "deadlines": [
            (p, report["ack_deadlines_s"][p]) for p in PRIORITIES if p in report["ack_deadlines_s"]
        ],
        "priorities": PRIORITIES,
        "types": TYPES,
        "by_priority": _pivot(report["posted"], "priority", PRIORITIES),
        "by_type": _pivot(report["posted"], "type", TYPES),
        "overdue_shown": report["overdue"]["items"][:HTML_OVERDUE],
        "summary": {
            "posted": sum(p["count"] for p in report["posted"]),
            "deliveries": sum(r["deliveries"] for r in totals),
            "share": _pct(within / due if due else None),
            "quiet": sum(1 for s in report["reachability"] if s["quiet"]),
        },
    }


def render_fragment(report: dict[str, Any]) -> str:
    """The report body (``<section class="avsec-report">``) for a page of its own; style
    it with :data:`CSS`. Its images are ``data:`` URIs (a CSP needs ``img-src data:``)."""
    return _ENV.get_template("fragment.html").render(report_context(report))


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML document."""
    return _ENV.get_template("page.html").render(report_context(report), css=Markup(CSS))  # noqa: S704 - a constant of this module, not data
