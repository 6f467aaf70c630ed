"""Reports a person looks at: one self-contained HTML file with plotly charts.

Plotly (``pip install plotly``) writes interactive charts (hover, zoom, toggling a series) into
one file that embeds plotly.js: it opens offline, from a file or a CI artifact, with no server
and no network, and a browser test can read what was drawn. The price is the size (about 5 MB,
the library); a PNG from matplotlib would be smaller but flat, and a report with twenty series
(models x policies) needs to hide some to be read.

* :func:`freshness_html`: a freshness report (:mod:`stream_ml.continual.freshness`): the rolling
  metric over time per slot with the true drift points marked, the training cost per slot,
  and the table.
* :func:`scenario_html`: a scenario run (``scenarios.runner.run_scenario``'s result): the
  rolling metric per model over time with the true drift points and the drift alarms marked,
  feedback per experiment arm, and the scenario's report.
* :func:`page`: the page around them (tables, figures, plotly.js once).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["freshness_html", "page", "scenario_html", "table_html", "write_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}
.note{color:#555}
"""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError as exc:  # pragma: no cover - plotly is a dependency of the reports
        from stream_ml.errors import ConfigError

        raise ConfigError("HTML reports need plotly: pip install plotly") from exc
    return go, pio


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4f}"
    return html.escape("-" if v is None else str(v))


def table_html(head: Sequence[str], rows: Sequence[Sequence[Any]], *, id: str = "") -> str:
    """An HTML table (cells escaped; floats to 4 decimals)."""
    attr = f' id="{html.escape(id)}"' if id else ""
    out = [f"<table{attr}><thead><tr>"]
    out += [f"<th>{html.escape(str(h))}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def page(title: str, blocks: Sequence[Any]) -> str:
    """One self-contained HTML page: each block is an HTML string or a plotly figure; plotly.js
    is embedded once, before the first figure."""
    _, pio = _plotly()
    parts, embedded = [], False
    for i, b in enumerate(blocks):
        if isinstance(b, str):
            parts.append(b)
            continue
        parts.append(pio.to_html(b, include_plotlyjs=not embedded, full_html=False,
                                 div_id=f"figure-{i}", config={"responsive": True}))  # fmt: skip
        embedded = True
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        + "\n".join(parts)
        + "</body></html>"
    )


def write_html(path: str | Path, text: str) -> Path:
    """Write a page to ``path`` (UTF-8); returns the path."""
    p = Path(path)
    p.write_text(text, encoding="utf-8")
    return p


def _lines(go: Any, title: str, xs: list[int], series: dict[str, list[float]],
           ytitle: str, drift_points: Sequence[int], alarms: Sequence[tuple[int, str]] = (),
           dash: dict[str, str] | None = None) -> Any:  # fmt: skip
    fig = go.Figure()
    for name, ys in series.items():
        line = {"dash": dash[name]} if dash and name in dash else None
        fig.add_trace(go.Scatter(x=xs, y=[None if _nan(y) else y for y in ys], mode="lines",
                                 name=name, line=line))  # fmt: skip
    for p in drift_points:
        fig.add_vline(x=p, line_dash="dash", line_color="red",
                      annotation_text=f"drift at {p}", annotation_position="top left")  # fmt: skip
    if alarms:
        lo = min((y for ys in series.values() for y in ys if not _nan(y)), default=0.0)
        fig.add_trace(go.Scatter(x=[a for a, _ in alarms], y=[lo] * len(alarms), mode="markers",
                                 marker={"symbol": "triangle-up", "size": 10, "color": "black"},
                                 text=[t for _, t in alarms], name="drift alarms"))  # fmt: skip
    fig.update_layout(title=title, xaxis_title="events", yaxis_title=ytitle, height=480,
                      legend={"orientation": "v"})  # fmt: skip
    return fig


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def freshness_html(report: Any) -> str:
    """The page of a :class:`~stream_ml.continual.freshness.FreshnessReport`.

    >>> from stream_ml.continual.freshness import run_freshness_scenario, LR
    >>> r = run_freshness_scenario("drift-abrupt", events=600, policies=["continual"],
    ...                            models={"lr": LR})
    >>> text = freshness_html(r)
    >>> text.startswith("<!DOCTYPE html>"), "lr@continual" in text, "drift at 300" in text
    (True, True, True)
    """
    go, _ = _plotly()
    xs = [p["events"] for p in report.timeline]
    blocks: list[Any] = [
        f"<p class='note'>{html.escape(report.source)}: {report.events} events, "
        f"{report.labels} labels; rolling window {report.window} scored events. Every policy "
        "ran in one engine on the same events and labels (prequential: predict, then learn)."
        "</p>"
    ]
    models = list(dict.fromkeys(r["model"] for r in report.rows))
    styles = ("solid", "dash", "dot", "dashdot", "longdash")
    dash = {r["slot"]: styles[models.index(r["model"]) % len(styles)] for r in report.rows}
    for m in report.metrics:
        series = {r["slot"]: report.series(r["slot"], m)[1] for r in report.rows}
        better = "higher is better" if report.bigger_is_better[m] else "lower is better"
        blocks.append(_lines(go, f"rolling {m} over time ({better}; one dash style per model)",
                             xs, series, m, report.drift_points, dash=dash))  # fmt: skip
    slots = [r["slot"] for r in report.rows]
    cost = go.Figure(go.Bar(x=slots, y=[r["seconds"] for r in report.rows],
                            text=[f"{r['updates']} updates" for r in report.rows],
                            name="seconds in learn_one"))  # fmt: skip
    cost.update_layout(title="training cost: wall seconds in learn_one (label: inner updates)",
                       yaxis_title="seconds", height=420)  # fmt: skip
    blocks.append(cost)
    m = report.metrics[0]
    head = ["slot", "policy", m, "gap to continual", f"rolling {m}", "stateful peer",
            "gap to stateful", "updates", "publishes", "learn s"]  # fmt: skip
    rows = []
    for r in report.rows:
        peer = r["gap_to_stateful"][m] if r["gap_to_stateful"] else None
        rows.append([r["slot"], r["policy"], r["metrics"][m], r["gap"][m], r["rolling"][m],
                     r["stateful_peer"], peer, r["updates"], r["publishes"],
                     r["seconds"]])  # fmt: skip
    blocks.append(table_html(head, rows, id="freshness-table"))
    if report.drift_points:
        head = ["slot", *[f"rolling {m} after drift at {p}" for p in report.drift_points]]
        rows = [[r["slot"], *[a[m] for a in r["after_drift"]]] for r in report.rows]
        blocks.append(table_html(head, rows, id="after-drift"))
    return page(f"freshness: {report.name}", blocks)


def scenario_html(result: dict[str, Any], name: str | None = None) -> str:
    """The page of a scenario run: ``run_scenario(...)``'s ``{"summary", "report"}`` (run with
    its timeline, as the runner records it).

    >>> import scenarios
    >>> from scenarios.runner import run_scenario
    >>> result = run_scenario(scenarios.get("drift-abrupt"), events=800, seed=0)
    >>> text = scenario_html(result)
    >>> "drift at 400" in text, "rolling Accuracy" in text
    (True, True)
    """
    go, _ = _plotly()
    summary, report = result["summary"], result.get("report", {})
    title = name or report.get("scenario") or summary.get("engine", "scenario")
    truth = report.get("truth", {})
    points = list(truth.get("drift_points", []))
    timeline = summary.get("timeline", [])
    xs = [p["events"] for p in timeline]
    alarms = [(int(r["engine_event"]), f"{r.get('monitor')}: {r.get('field', '')}")
              for r in summary.get("records", []) if r.get("kind") == "drift"
              and r.get("engine_event") is not None]  # fmt: skip
    blocks: list[Any] = [
        f"<p class='note'>{summary.get('events')} events, "
        f"{summary.get('feedback')} feedback; {len(alarms)} drift alarm(s)</p>"
    ]
    metrics = next(iter(timeline[0]["models"].values())) if timeline else {}
    for m in metrics:
        series = {n: [p["models"].get(n, {}).get(m, math.nan) for p in timeline]
                  for n in summary["models"]}  # fmt: skip
        blocks.append(_lines(go, f"rolling {m} over time", xs, series, m, points, alarms))
    for chart in report.get("plots", []):  # a scenario's own charts (plain data)
        blocks.append(_lines(go, chart["title"], chart["x"], chart["series"],
                             chart.get("ytitle", ""), points))  # fmt: skip
    arms = (summary.get("experiment") or {}).get("arms") or {}
    if arms:
        bar = go.Figure(go.Bar(x=list(arms), y=[a.get("n", 0) for a in arms.values()]))
        bar.update_layout(title="traffic per arm (decisions with feedback)", height=380)
        blocks.append(bar)
    models = summary["models"]
    names = list(next(iter(models.values()))["metrics"]) if models else []
    rows = [[n, v["role"], v["scored"], *[v["metrics"][k] for k in names]]
            for n, v in models.items()]  # fmt: skip
    blocks.append(table_html(["model", "role", "scored", *names], rows, id="models"))
    shown = {k: v for k, v in report.items() if k not in ("truth", "plots")}
    blocks.append("<h2>report</h2><pre id='report'>"
                  + html.escape(json.dumps({"truth": truth, **shown}, indent=2, default=str))
                  + "</pre>")  # fmt: skip
    return page(f"scenario: {title}", blocks)
