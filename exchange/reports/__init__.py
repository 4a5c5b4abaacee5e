"""Client-side renderers of the exchange's effectiveness reports (issue 14): HTML with
charts, CSV and JSON. Pure: they take the report document the SDK fetched
(``exchange.client.reports.fetch_report``) and never touch a server or a database."""

from exchange.reports.html import (
    CSS,
    FILTERS,
    FRAGMENT,
    render_fragment,
    render_html,
    report_context,
)
from exchange.reports.tabular import render_csv, render_json

__all__ = [
    "CSS",
    "FILTERS",
    "FORMATS",
    "FRAGMENT",
    "render",
    "render_csv",
    "render_fragment",
    "render_html",
    "render_json",
    "report_context",
]

FORMATS = ("html", "csv", "json")


def render(report: dict[str, object], fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "html":
        return render_html(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"unknown format {fmt!r}")
