"""The status page at `/`: plain server-rendered HTML, no JavaScript needed.

It answers the on-call question first (what is down right now, since when,
why), then source health, then a filterable list of every target.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from tocsin import __version__
from tocsin.api.facade import TargetRow
from tocsin.detect.types import TargetState
from tocsin.sources.types import SourceHealth

PAGE_SIZE = 200

# Loaded once at import: the page is rendered often, the stylesheet never changes.
_CSS = (Path(__file__).parent / "status.css").read_text()


def _ts(t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def _num(x: float | None, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def _labels(labels: Mapping[str, str]) -> str:
    return " ".join(f"<code>{_esc(k)}={_esc(v)}</code>" for k, v in sorted(labels.items()))


def _target_rows(targets: Sequence[TargetRow]) -> str:
    rows = []
    for t in targets:
        state = t.state.value
        rows.append(
            "<tr>"
            f'<td><a href="/api/tocsin/v1/targets/{_esc(t.target_id)}">{_esc(t.target_id)}</a></td>'
            f'<td><span class="pill p-{state}">{state}</span></td>'
            f"<td>{_esc(t.source)}</td><td>{_ts(t.since)}</td>"
            f"<td>{_esc(t.reason)}</td><td>{_labels(t.labels)}</td></tr>"
        )
    return "".join(rows)


def _source_rows(sources: Iterable[SourceHealth], incidents: Mapping[str, str]) -> str:
    rows = []
    for s in sources:
        circuit = s.circuit.value
        incident = incidents.get(s.name, "")
        budget = (
            f"{s.budget_available:.0f} / {s.budget_per_minute:.0f} per min"
            if s.budget_per_minute is not None and s.budget_available is not None
            else "unlimited"
        )
        rows.append(
            "<tr>"
            f"<td>{_esc(s.name)}</td>"
            f"<td>{'healthy' if s.healthy else '<b>failing</b>'}</td>"
            f'<td><span class="pill p-{circuit}">{circuit}</span></td>'
            f"<td>{s.targets}</td><td>{_ts(s.last_sweep_at)}</td>"
            f"<td>{_num(s.last_sweep_seconds, '.2f')}</td>"
            f"<td>{s.requests_total}</td><td>{budget}</td>"
            f"<td>{_num(s.estimated_calls_per_hour, '.0f')}</td>"
            f"<td>{_esc(incident or s.last_error or '')}</td></tr>"
        )
    return "".join(rows)


def render_status_page(
    targets: Sequence[TargetRow],
    sources: Sequence[SourceHealth],
    incidents: Mapping[str, str],
    *,
    state: str | None = None,
    query: str = "",
    page: int = 1,
    now: float,
) -> str:
    """The whole page. `targets` is every target; filtering happens here."""
    counts = Counter(t.state.value for t in targets)
    problems = [t for t in targets if t.state in (TargetState.DOWN, TargetState.FLAPPING)]
    problems.sort(key=lambda t: (t.state.value, -(t.since or 0)))

    shown = [t for t in targets if state is None or t.state.value == state]
    if query:
        q = query.lower()
        shown = [
            t
            for t in shown
            if q in t.target_id.lower() or any(q in v.lower() for v in t.labels.values())
        ]
    total = len(shown)
    start = (page - 1) * PAGE_SIZE
    shown = shown[start : start + PAGE_SIZE]

    cards = "".join(
        f'<div class="card state-{s.value}"><a href="/?{urlencode({"state": s.value})}">'
        f"<b>{counts.get(s.value, 0)}</b>{s.value.replace('_', ' ')}</a></div>"
        for s in TargetState
    )
    options = "".join(
        f'<option value="{s.value}"{" selected" if s.value == state else ""}>{s.value}</option>'
        for s in TargetState
    )
    nav = []
    base = {k: v for k, v in (("state", state), ("q", query)) if v}
    if page > 1:
        nav.append(f'<a href="/?{urlencode({**base, "page": page - 1})}">&larr; previous</a>')
    if start + PAGE_SIZE < total:
        nav.append(f'<a href="/?{urlencode({**base, "page": page + 1})}">next &rarr;</a>')
    shown_to = min(start + PAGE_SIZE, total)
    header_row = (
        "<tr><th>target</th><th>state</th><th>source</th><th>since</th>"
        "<th>reason</th><th>labels</th></tr>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>tocsin status</title><style>{_CSS}</style></head>
<body><header><h1>tocsin</h1><span>{len(targets)} targets · {len(sources)} sources ·
updated {_ts(now)} · v{__version__}</span></header>
<main>
<div class="cards" id="summary">{cards}</div>
<h2>Needs attention ({len(problems)})</h2>
<table id="problems">{header_row}{
        _target_rows(problems[:PAGE_SIZE])
        or '<tr><td colspan="6" class="muted">Nothing is down or flapping.</td></tr>'
    }</table>
<h2>Sources</h2>
<table id="sources"><tr><th>source</th><th>health</th><th>circuit</th><th>targets</th>
<th>last sweep</th><th>took</th><th>requests</th><th>budget</th><th>calls/h</th><th>note</th></tr>
{_source_rows(sources, incidents)}</table>
<h2>Targets</h2>
<form method="get" action="/"><select name="state"><option value="">any state</option>{options}
</select> <input name="q" placeholder="id or label value" value="{_esc(query)}">
<button type="submit">filter</button></form>
<p class="muted">showing {start + 1 if total else 0}&ndash;{shown_to} of {total} {" ".join(nav)}</p>
<table id="targets">{header_row}{_target_rows(shown)}</table>
</main></body></html>"""
