"""The report's charts: matplotlib (Agg, no display) drawn to SVG and handed back as
``data:`` URIs for ``<img>``: an SVG loaded as an image runs no script, so a chart
can never carry one into the page, whatever labels it holds."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

__all__ = ["Chart", "charts"]

_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: small, selectable, sharp in print
    "svg.hashsalt": "avsec-report",  # the same report draws the same bytes
    "text.parse_math": False,  # a label is never read as mathtext ("$...$")
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
#: colour-blind-safe (Okabe-Ito), priority order flash..routine, then neutrals
_COLOURS = ("#D55E00", "#E69F00", "#0072B2", "#009E73", "#56B4E9", "#999999")


class Chart:
    """One chart: its title, a short caption, and the SVG as a ``data:`` URI."""

    def __init__(self, title: str, caption: str, uri: str) -> None:
        self.title = title
        self.caption = caption
        self.uri = uri


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float = 7.0, height: float = 2.8) -> tuple[Figure, Any]:
    fig = plt.figure(figsize=(width, height))
    return fig, fig.add_subplot()


def _legend_above(ax: Any, columns: int) -> None:
    ax.legend(
        frameon=False, fontsize=8, ncols=columns, loc="lower center", bbox_to_anchor=(0.5, 1.0)
    )


def _share_chart(rows: Sequence[dict[str, Any]]) -> Chart | None:
    totals = [r for r in rows if r["priority"] == "all" and r["due"]]
    if not totals:
        return None
    fig, ax = _figure()
    parties = [r["party"] for r in totals]
    shares = [100 * (r["within_deadline_share"] or 0) for r in totals]
    bars = ax.bar(parties, shares, color=[_COLOURS[3] if s >= 90 else _COLOURS[1] for s in shares])
    ax.bar_label(bars, labels=[f"{s:.0f}%" for s in shares], padding=2, fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("% acked in time")
    ax.axhline(90, color=_COLOURS[5], linestyle="--", linewidth=0.8)
    return Chart(
        "Acknowledged within the deadline, per recipient State",
        "Share of due deliveries whose first ack came by the deadline of the bulletin's "
        "priority (all priorities). Dashed line: 90%.",
        _uri(fig),
    )


def _time_chart(rows: Sequence[dict[str, Any]], priorities: Sequence[str]) -> Chart | None:
    timed = [r for r in rows if r["times"] and r["times"]["received"]["n"]]
    if not timed:
        return None
    parties = sorted({r["party"] for r in timed})
    present = [p for p in priorities if any(r["priority"] == p for r in timed)]
    fig, ax = _figure()
    width = 0.8 / len(present)
    for j, prio in enumerate(present):
        got = {
            r["party"]: r["times"]["received"]["median_s"] for r in timed if r["priority"] == prio
        }
        xs = [i - 0.4 + width * (j + 0.5) for i, p in enumerate(parties) if p in got]
        ys = [max(got[p] or 0, 1) / 60 for p in parties if p in got]
        ax.bar(xs, ys, width=width, label=prio, color=_COLOURS[priorities.index(prio)])
    ax.set_yscale("log")
    # plain numbers: with mathtext off, the log axis's default labels are raw TeX
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(range(len(parties)), parties)
    ax.set_ylabel("minutes (log scale)")
    _legend_above(ax, len(present))
    return Chart(
        "Median time from acceptance to first ack, per recipient State and priority",
        "Minutes, on a logarithmic scale; the 90th percentiles are in the table below.",
        _uri(fig),
    )


def _trend_chart(trend: Sequence[dict[str, Any]]) -> Chart | None:
    if sum(1 for t in trend if t["due"]) < 2:
        return None
    fig, ax = _figure(7.0, 2.8)
    labels = [t["period"] for t in trend]
    parties = sorted({p for t in trend for p in t["parties"]})
    for i, party in enumerate(parties):
        xs, ys = [], []
        for j, t in enumerate(trend):
            share = t["parties"].get(party, {}).get("within_deadline_share")
            if share is not None:
                xs.append(j)
                ys.append(100 * share)
        colour = _COLOURS[i % len(_COLOURS)] if len(parties) <= len(_COLOURS) else None
        ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1, label=party, color=colour)
    overall = [(j, 100 * t["within_deadline_share"]) for j, t in enumerate(trend) if t["due"]]
    ax.plot(
        [x for x, _ in overall],
        [y for _, y in overall],
        color="black",
        linewidth=2.2,
        label="all",
    )
    ax.set_ylim(0, 105)
    ax.set_ylabel("% acked in time")
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(len(labels))[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    if len(parties) <= 12:
        _legend_above(ax, min(len(parties) + 1, 7))
    return Chart(
        "Acknowledged within the deadline, over the period",
        "Share of due deliveries acked in time per recipient State (thin lines) and for all "
        "(thick line), per period; the deliveries of each period are in the trend table.",
        _uri(fig),
    )


def _posted_chart(posted: Sequence[dict[str, Any]], priorities: Sequence[str]) -> Chart | None:
    if not posted:
        return None
    senders = sorted({p["iss"] for p in posted})
    fig, ax = _figure(7.0, 2.4)
    bottom = [0] * len(senders)
    for i, prio in enumerate(priorities):
        counts = [
            sum(p["count"] for p in posted if p["iss"] == s and p["priority"] == prio)
            for s in senders
        ]
        if any(counts):
            ax.bar(senders, counts, bottom=bottom, label=prio, color=_COLOURS[i])
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("bulletins")
    _legend_above(ax, len(priorities))
    return Chart(
        "Bulletins posted per State",
        "By priority. A group's report counts the bulletins addressed to the group.",
        _uri(fig),
    )


def charts(report: dict[str, Any], priorities: Sequence[str]) -> list[Chart]:
    """The charts a report has data for, in reading order."""
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys checked at run time
        made = (
            _share_chart(report["recipients"]),
            _time_chart(report["recipients"], priorities),
            _trend_chart(report["trend"]),
            _posted_chart(report["posted"], priorities),
        )
    return [c for c in made if c is not None]
