# ruff: noqa: E501 - markup lines follow the table rows, not the line length
"""The report's Jinja2 templates and style sheet, kept in the package as text so that the
HTML file needs nothing beside it. Every value is autoescaped; nothing is ``|safe``."""

from __future__ import annotations

__all__ = ["CSS", "FRAGMENT", "PAGE"]

CSS = """
.avsec-report { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt;
  color: #1a1a1a; line-height: 1.35; max-width: 64em; margin: 0 auto; }
.avsec-report h1 { font-size: 17pt; margin: 0 0 .2em; }
.avsec-report h2 { font-size: 13pt; margin: 1.4em 0 .4em; border-bottom: 1px solid #bbb;
  padding-bottom: .15em; }
.avsec-report .meta { color: #555; margin: 0 0 1em; }
.avsec-report .cards { display: flex; flex-wrap: wrap; gap: .6em; margin: .8em 0; }
.avsec-report .card { border: 1px solid #ccc; border-radius: 4px; padding: .4em .8em;
  min-width: 9em; }
.avsec-report .card b { display: block; font-size: 15pt; }
.avsec-report table { border-collapse: collapse; width: 100%; margin: .3em 0 .8em;
  font-size: 9pt; }
.avsec-report th, .avsec-report td { border: 1px solid #ccc; padding: .2em .4em;
  text-align: right; vertical-align: top; }
.avsec-report th { background: #f0f0f0; }
.avsec-report td.l, .avsec-report th.l { text-align: left; }
.avsec-report tr.total td { font-weight: bold; background: #fafafa; }
.avsec-report .bad { color: #b00020; font-weight: bold; }
.avsec-report .ok { color: #006b3c; }
.avsec-report figure { margin: .6em 0 1em; break-inside: avoid; page-break-inside: avoid; }
.avsec-report figure img { width: 100%; max-width: 46em; height: auto; }
.avsec-report figcaption { color: #555; font-size: 8.5pt; }
.avsec-report dl.defs dt { font-weight: bold; margin-top: .3em; }
.avsec-report dl.defs dd { margin: 0 0 0 1.2em; }
.avsec-report .note { color: #555; font-size: 8.5pt; }
.avsec-report .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  .avsec-report { max-width: none; font-size: 9pt; }
  .avsec-report h2 { break-after: avoid; page-break-after: avoid; }
  .avsec-report table, .avsec-report tr { break-inside: avoid; page-break-inside: avoid; }
  .avsec-report thead { display: table-header-group; }
  .avsec-report th { background: #eee !important; -webkit-print-color-adjust: exact;
    print-color-adjust: exact; }
}
"""

FRAGMENT = """\
<section class="avsec-report">
<h1>{{ title }}</h1>
<p class="meta">Period {{ r["from"] }} to {{ r["to"] }} (UTC, end excluded) &middot; trend per
{{ r.bucket }} &middot; generated {{ r.generated_at }} &middot; report format
{{ r.version }}</p>

<div class="cards">
  <div class="card"><b>{{ summary.posted }}</b>bulletins posted</div>
  <div class="card"><b>{{ summary.deliveries }}</b>deliveries</div>
  <div class="card"><b>{{ summary.share }}</b>acked within the deadline</div>
  <div class="card"><b class="{{ 'bad' if r.overdue.total else 'ok' }}">{{ r.overdue.total }}</b>
    still overdue</div>
  <div class="card"><b class="{{ 'bad' if summary.quiet else 'ok' }}">{{ summary.quiet }}</b>
    quiet States</div>
</div>

{% for c in charts %}
<figure>
  <img src="{{ c.uri }}" alt="{{ c.title }}">
  <figcaption><b>{{ c.title }}.</b> {{ c.caption }}</figcaption>
</figure>
{% endfor %}

<h2>Responsiveness per recipient State</h2>
<table>
<thead>
<tr><th class="l" rowspan="2">State</th><th class="l" rowspan="2">Priority</th>
<th rowspan="2">Deliv&shy;eries</th><th colspan="2">to delivered</th>
<th colspan="2">to received</th><th colspan="2">to read</th><th colspan="2">to actioned</th>
<th rowspan="2">Due</th><th rowspan="2">In time</th><th rowspan="2">Over&shy;due</th></tr>
<tr><th>median</th><th>p90</th><th>median</th><th>p90</th><th>median</th><th>p90</th>
<th>median</th><th>p90</th></tr>
</thead>
<tbody>
{% for row in r.recipients %}
<tr{% if row.priority == 'all' %} class="total"{% endif %}>
<td class="l">{{ row.party }}</td><td class="l">{{ row.priority }}</td>
<td>{{ row.deliveries }}</td>
{% if row.times %}
{% for step in ('delivered', 'received', 'read', 'actioned') %}
<td>{{ row.times[step].median_s | duration }}</td><td>{{ row.times[step].p90_s | duration }}</td>
{% endfor %}
{% else %}
<td class="l note" colspan="8">all priorities (times per priority above)</td>
{% endif %}
<td>{{ row.due }}</td>
<td class="{{ row.within_deadline_share | share_class }}">{{ row.within_deadline_share | pct }}</td>
<td class="{{ 'bad' if row.overdue else '' }}">{{ row.overdue }}</td>
</tr>
{% else %}
<tr><td class="l" colspan="14">No deliveries in the period.</td></tr>
{% endfor %}
</tbody>
</table>
<p class="note">Ack deadlines: {% for p, s in deadlines %}{{ p }} {{ s | duration }}{{ ", " if not loop.last }}{% endfor %}.
Times run from the server's acceptance of the bulletin; "in time" is the share of due
deliveries acked by the deadline.</p>

<h2>Bulletins posted</h2>
{% if r.posted %}
<table>
<thead><tr><th class="l">Sender</th>{% for p in priorities %}<th>{{ p }}</th>{% endfor %}
<th>total</th></tr></thead>
<tbody>
{% for sender, counts, total in by_priority %}
<tr{% if loop.last %} class="total"{% endif %}><td class="l">{{ sender }}</td>
{% for c in counts %}<td>{{ c }}</td>{% endfor %}<td>{{ total }}</td></tr>
{% endfor %}
</tbody>
</table>
<table>
<thead><tr><th class="l">Sender</th>{% for t in types %}<th>{{ t }}</th>{% endfor %}
<th>total</th></tr></thead>
<tbody>
{% for sender, counts, total in by_type %}
<tr{% if loop.last %} class="total"{% endif %}><td class="l">{{ sender }}</td>
{% for c in counts %}<td>{{ c }}</td>{% endfor %}<td>{{ total }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>None in the period.</p>
{% endif %}

<h2>Still overdue ({{ r.overdue.total }})</h2>
{% if r.overdue["items"] %}
<table>
<thead><tr><th class="l">Recipient</th><th class="l">Sender</th><th class="l">Priority</th>
<th class="l">Bulletin</th><th class="l">Deadline</th><th>Late by</th></tr></thead>
<tbody>
{% for o in overdue_shown %}
<tr><td class="l">{{ o.party }}</td><td class="l">{{ o.iss }}</td><td class="l">{{ o.priority }}</td>
<td class="l mono">{{ o.bid }}</td><td class="l">{{ o.deadline }}</td>
<td class="bad">{{ o.late_s | duration }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if r.overdue.total > overdue_shown | length %}
<p class="note">The {{ overdue_shown | length }} with the earliest deadlines of
{{ r.overdue.total }} are listed (the CSV and JSON formats hold up to
{{ r.overdue["items"] | length }}); the count per State is in the table above.</p>
{% endif %}
{% else %}
<p>None: every delivery past its deadline has been acknowledged.</p>
{% endif %}

<h2>Trend</h2>
<table>
<thead><tr><th class="l">{{ r.bucket | capitalize }}</th><th>Deliveries</th><th>Acked</th>
<th>Due</th><th>In time</th></tr></thead>
<tbody>
{% for t in r.trend %}
<tr><td class="l">{{ t.period }}</td><td>{{ t.deliveries }}</td><td>{{ t.acknowledged }}</td>
<td>{{ t.due }}</td>
<td class="{{ t.within_deadline_share | share_class }}">{{ t.within_deadline_share | pct }}</td></tr>
{% endfor %}
</tbody>
</table>

<h2>Reachability</h2>
<table>
<thead><tr><th class="l">State</th><th class="l">Last live stream</th>
<th class="l">Last inbox pull</th><th class="l">Last request</th><th class="l">Status</th></tr></thead>
<tbody>
{% for s in r.reachability %}
<tr><td class="l">{{ s.party }}</td><td class="l">{{ s.last_stream or "never" }}</td>
<td class="l">{{ s.last_inbox or "never" }}</td><td class="l">{{ s.last_request or "never" }}</td>
<td class="l {{ 'bad' if s.quiet else 'ok' }}">{{ s | reach }}</td></tr>
{% endfor %}
</tbody>
</table>

<h2>Directory health</h2>
{% if r.directory["keys"] %}
<table>
<thead><tr><th class="l">State</th><th class="l">Key</th><th class="l">Client</th>
<th class="l">Key id</th><th>Age (days)</th><th class="l">Finding</th></tr></thead>
<tbody>
{% for k in r.directory["keys"] %}
<tr><td class="l">{{ k.party }}</td><td class="l">{{ k.use }}</td><td class="l">{{ k.client or "" }}</td>
<td class="l mono">{{ k.kid }}</td><td>{{ k.age_days }}</td>
<td class="l">{{ k.flags | join(", ") }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>No key is near or past its recommended lifetime, and every State has rotated.</p>
{% endif %}
{% if r.directory.unused_clients %}
<p>Clients never used: {% for c in r.directory.unused_clients %}{{ c.client }}{{ ", " if not loop.last }}{% endfor %}.</p>
{% endif %}
{% if r.directory.without_encryption_key %}
<p class="bad">States without an active encryption key (they cannot receive):
{{ r.directory.without_encryption_key | join(", ") }}.</p>
{% endif %}

<h2>Definitions</h2>
<dl class="defs">
{% for name, text in r.definitions | dictsort %}
<dt>{{ name }}</dt><dd>{{ text }}</dd>
{% endfor %}
</dl>
<p class="note">Computed by the exchange server from metadata only (who sent what to whom,
when, and the signed acks); the server never sees a bulletin's content.</p>
</section>
"""

PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{{ title }}</title>
<style>{{ css }}</style>
</head>
<body>
{% include "fragment.html" %}
</body>
</html>
"""
