"""Model cards: what exactly a snapshot holds and how it came to be, from stored facts only.

:func:`card_facts` reads one snapshot (verified: checksum and signature) and its store: the
snapshot's metadata, every model's expression (from the config stored with the engine), version
and training counts, its prequential metrics, the engine's event count, labels and event time,
the lineage (the parent chain in the store, the snapshots tagged ``promotion`` or ``rollback``
on it with their notes, and every audit entry that names a version of the chain, with its
reason), the drift monitors with their alarms and episodes, the experiment's arms and decision,
the per-slice metrics (``summary()["slices"]``: every tracked slice with its interval and alarm
mark, the alarm episodes) and each classifier's calibration (ECE and reliability curve over the
rolling window, the ECE monitor's episodes). They are read from the snapshot's engine state,
as its ``summary()`` reports them: nothing is recomputed on data; a fact not stored is reported
as not stored (a snapshot taken before slices were configured has none).

:func:`card_markdown` and :func:`card_html` render them.

Examples
--------
>>> import tempfile, pathlib
>>> from stream_ml.config import parse_config
>>> from stream_ml.runtime.build import run_config
>>> from stream_ml.snapshots import SnapshotStore
>>> db = str(pathlib.Path(tempfile.mkdtemp()) / "s.db")
>>> cfg = parse_config({"source": {"kind": "csv", "path": "data/weather.csv.gz",
...     "target": "target"}, "models": {"lr": {"model": "linear_model.LogisticRegression()"}},
...     "snapshots": {"path": db, "every_events": 500, "trust_unsigned": True}})
>>> _ = run_config(cfg, limit=1000)
>>> with SnapshotStore(db, trust_unsigned=True) as store:
...     facts = card_facts(store, 2)
>>> facts["models"][0]["expression"], facts["training"]["events"], facts["lineage"]["chain"]
('linear_model.LogisticRegression()', 1000, [1, 2])
>>> print(card_markdown(facts).splitlines()[0])
# Model card: engine, snapshot 2
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from stream_ml.errors import StreamMLError

__all__ = ["card_facts", "card_html", "card_markdown"]


def _when(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def card_facts(store: Any, version: int) -> dict[str, Any]:
    """The facts of snapshot ``version`` in ``store`` (a :class:`SnapshotStore`), as JSON-ready
    dicts (module docstring)."""
    from stream_ml.stages.snapshotting import engine_state

    state, info = store.load(version)
    engine = engine_state(state, version, store.path)["engine"]
    config = getattr(engine, "config", None)
    exprs = {n: m.model for n, m in config.models.items()} if config is not None else {}
    try:
        summary = engine.summary()
    except StreamMLError:  # pragma: no cover - a summary that fails is reported, not fatal
        summary = {}
    models = []
    for slot in engine.slots:
        m = summary.get("models", {}).get(slot.name, {})
        models.append({
            "name": slot.name,
            "expression": exprs.get(slot.name) or _expression(slot.model),
            "from_config": slot.name in exprs,
            "role": m.get("role"),
            "replaced": slot.version,
            "learned": slot.learned,
            "scored": slot.prequential.n,
            "metrics": slot.prequential.values(),
            "rolling": slot.prequential.rolling(),
            "rolling_window": slot.prequential.window,
            "calibration": m.get("calibration"),
        })  # fmt: skip
    infos = {i.version: i for i in store.list()}
    chain, missing = _chain(version, info.parent, infos)
    chain_set = set(chain)
    marked = [
        {"version": v, "tags": list(infos[v].tags), "note": infos[v].note,
         "events": infos[v].events}
        for v in chain if {"promotion", "rollback"} & set(infos[v].tags)
    ]  # fmt: skip
    audit = [
        {"at": _when(a.at), "action": a.action, "from_version": a.from_version,
         "to_version": a.to_version, "reason": a.reason}
        for a in store.audit() if a.from_version in chain_set or a.to_version in chain_set
    ]  # fmt: skip
    oldest = infos[chain[0]]
    check = next((c for c in store.checks() if c.version == version), None)
    labels = summary.get("labels", {})
    return {
        "snapshot": {
            "version": info.version, "engine": info.engine, "created_at": _when(info.created_at),
            "offset": info.offset, "tags": list(info.tags), "note": info.note,
            "size": info.size, "sha256": info.sha256, "signed": info.signed,
            "check": None if check is None else check.status,
            "python": info.python_version, "river": info.river_version,
            "stream_ml": info.stream_ml_version,
        },
        "config": {
            "hash": info.config_hash,
            "stored": config is not None,
            "matches": None if config is None else config.digest() == info.config_hash,
            "metrics": list(engine.slots[0].prequential.names),
            "seed": engine.seed,
        },
        "models": models,
        "training": {
            "events": engine.seq, "labels": engine.n_labels, "feedback": engine.n_feedback,
            "last_event_time": engine.last_ts, "snapshot_event_time": info.event_time,
            "first_event_time": None,
            "oldest_snapshot": {"version": oldest.version, "events": oldest.events,
                                "event_time": oldest.event_time},
            "label_lag_mean": labels.get("lag_mean"), "label_lag_max": labels.get("lag_max"),
            "pending": labels.get("pending"), "expired": labels.get("expired"),
            "evicted": labels.get("evicted"),
        },
        "lineage": {"chain": chain, "missing_parent": missing, "marked": marked,
                    "audit": audit},
        "drift": [_monitor(m) for m in summary.get("drift", [])],
        "experiment": _experiment(summary.get("experiment")),
        "errors": summary.get("errors", {}).get("by_code", {}),
        "slices": summary.get("slices"),
    }  # fmt: skip


def _expression(model: Any) -> str:
    """A model not in the stored config (a drift challenger): its class and parameters."""
    return " ".join(repr(model).split())


def _chain(version: int, parent: int | None, infos: dict[int, Any]) -> tuple[list[int], Any]:
    """The parent chain, oldest first, within the store; the first parent it no longer holds."""
    chain, seen = [version], {version}
    while parent is not None and parent not in seen:
        if parent not in infos:
            return chain[::-1], parent
        chain.append(parent)
        seen.add(parent)
        parent = infos[parent].parent
    return chain[::-1], None


def _monitor(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "on", "model", "fields", "action", "alerts", "episodes", "events",
            "recent_episodes")  # fmt: skip
    return {k: m.get(k) for k in keys}


def _experiment(e: dict[str, Any] | None) -> dict[str, Any] | None:
    if not e:
        return None
    keys = ("experiment", "kind", "decisions", "rewards", "arms", "promoted")
    return {k: e.get(k) for k in keys if k in e}


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return "-" if v is None else str(v)


def card_markdown(facts: dict[str, Any]) -> str:
    """The card as Markdown."""
    s, c, t, lin = facts["snapshot"], facts["config"], facts["training"], facts["lineage"]
    out = [f"# Model card: {s['engine']}, snapshot {s['version']}", ""]
    out += [f"Written {s['created_at']} (wall clock) at source offset `{json.dumps(s['offset'])}`;"
            f" tags: {', '.join(s['tags']) or 'none'}; note: {s['note'] or 'none'}.",
            f"Signed: {'yes' if s['signed'] else 'no'} (check: {s['check']}); "
            f"python {s['python']}, river {s['river']}, stream-ml {s['stream_ml']}; "
            f"sha256 `{s['sha256'][:16]}...`, {s['size']} bytes.", ""]  # fmt: skip
    matches = {None: "no config stored with the engine", True: "the stored config matches it",
               False: "the stored config does NOT match it"}[c["matches"]]  # fmt: skip
    out += ["## Configuration", "", f"Config hash `{c['hash']}` ({matches}); seed {c['seed']}; "
            f"metrics {', '.join(c['metrics']) or 'none'}.", ""]  # fmt: skip
    calibrated = any(m.get("calibration") for m in facts["models"])
    out += ["## Models", "", "| model | expression | role | replaced | learned | scored | "
            + " | ".join(f"{m} | {m} (rolling)" for m in c["metrics"])
            + (" | ECE (rolling)" if calibrated else "") + " |",
            "|" + "---|" * (6 + 2 * len(c["metrics"]) + calibrated)]  # fmt: skip
    for m in facts["models"]:
        cells = [_cell(m["name"]), f"`{_cell(m['expression'])}`", _num(m["role"]),
                 str(m["replaced"]),
                 str(m["learned"]), str(m["scored"])]  # fmt: skip
        for name in c["metrics"]:
            cells += [_num(m["metrics"].get(name)), _num(m["rolling"].get(name))]
        if calibrated:
            cells.append(_num((m.get("calibration") or {}).get("ece")) if m.get("calibration")
                         else "no probabilities")  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    window = facts["models"][0]["rolling_window"] if facts["models"] else "-"
    out += ["", f"Prequential (predict, then learn) over every scored label; rolling: the last "
            f"{window} scored.", ""]  # fmt: skip
    if calibrated:
        out += _calibration_md(facts["models"])
    o = t["oldest_snapshot"]
    out += ["## Training data", "",
            f"{t['events']} events, {t['labels']} labels learned ({t['feedback']} feedback); "
            f"event time of the last event: {_num(t['last_event_time'])}.",
            f"The first event's time is not stored; the oldest snapshot of the lineage in the "
            f"store (version {o['version']}) was at event time {_num(o['event_time'])} after "
            f"{o['events']} events.",
            f"Label lag (event time): mean {_num(t['label_lag_mean'])}, max "
            f"{_num(t['label_lag_max'])}; pending {t['pending']}, expired {t['expired']}, "
            f"evicted {t['evicted']}.", ""]  # fmt: skip
    out += ["## Lineage", "", "Parent chain (oldest first): "
            + " -> ".join(str(v) for v in lin["chain"]) + "."]  # fmt: skip
    if lin["missing_parent"] is not None:
        out.append(f"Version {lin['missing_parent']}, the next parent, is no longer in the store.")
    for m in lin["marked"]:
        out.append(f"- version {m['version']} ({', '.join(m['tags'])}, {m['events']} events): "
                   f"{m['note'] or 'no note'}")  # fmt: skip
    if lin["audit"]:
        out += ["", "| at | action | from | to | reason |", "|---|---|---|---|---|"]
        for a in lin["audit"]:
            out.append(f"| {a['at']} | {a['action']} | {_num(a['from_version'])} | "
                       f"{_num(a['to_version'])} | {a['reason'] or ''} |")  # fmt: skip
    else:
        out.append("No restore or rollback in the audit table names this lineage.")
    out += ["", "## Drift", ""]
    if not facts["drift"]:
        out.append("No drift monitor was configured.")
    for d in facts["drift"]:
        out.append(f"- {d['name']} ({d['on']}: {', '.join(d['fields'] or [])}; action "
                   f"{d['action']}): {d['alerts']} alarm(s), {d['episodes']} episode(s) in "
                   f"{d['events']} checks")  # fmt: skip
        for e in d["recent_episodes"] or []:
            out.append(f"  - episode {e.get('episode')}: events {e.get('start_event')}-"
                       f"{_num(e.get('end_event'))}, {e.get('severity')}")  # fmt: skip
    out += ["", "## Experiment", ""]
    e = facts["experiment"]
    if e is None:
        out.append("No experiment router.")
    else:
        out.append(f"{e.get('experiment')} ({e.get('kind')}): {e.get('decisions')} decisions, "
                   f"promoted: {e.get('promoted') or 'none'}.")  # fmt: skip
        for arm, a in (e.get("arms") or {}).items():
            out.append(f"- {arm}: n {a.get('n')}, mean {_num(a.get('mean'))} "
                       f"[{_num(a.get('low'))}, {_num(a.get('high'))}]")  # fmt: skip
    if facts.get("slices"):
        out += _slices_md(facts["slices"])
    if facts["errors"]:
        out += ["", "## Errors", "", ", ".join(f"{k}: {v}" for k, v in facts["errors"].items())]
    return "\n".join(out) + "\n"


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: a pipe (a River pipeline's ``|``) escaped, or it would
    split the cell (in a code span too)."""
    return str(text).replace("|", "\\|")


def _span(start: Any, end: Any) -> str:
    return f"events {start}-{end}" if end is not None else f"events {start}- (open)"


def _calibration_md(models: list[dict[str, Any]]) -> list[str]:
    """The calibration subsection of the Models section: per classifier its ECE over the
    rolling window, the ECE monitor's episodes, and the reliability curve (non-empty bins)."""
    first = next(m["calibration"] for m in models if m.get("calibration"))
    out = ["### Calibration", "",
           f"Top-label calibration over the rolling window (the last {first.get('window')} "
           "scored events with probabilities), equal-width confidence bins; ECE: the events' "
           "share-weighted gap between each bin's accuracy and its mean confidence.",
           ""]  # fmt: skip
    for m in models:
        cal = m.get("calibration")
        if not cal:
            continue
        line = f"- **{m['name']}**: ECE {_num(cal.get('ece'))} over {cal.get('n')} events"
        if cal.get("threshold") is not None:
            eps = cal.get("alarms") or []
            line += f"; monitor threshold {_num(cal['threshold'])}, {len(eps)} alarm episode(s)"
            if eps:
                line += ": " + "; ".join(f"{_span(e.get('start'), e.get('end'))} (ECE "
                                         f"{_num(e.get('ece'))} when it opened)"
                                         for e in eps[-5:])  # fmt: skip
        out.append(line)
        every = cal.get("bins") or []
        last = every[-1] if every else None
        bins = [b for b in every if b.get("n")]
        if not bins:
            out.append("  - no scored event with probabilities in the window")
        for b in bins:
            acc, conf = b.get("accuracy"), b.get("confidence")
            gap = acc - conf if isinstance(acc, float) and isinstance(conf, float) else None
            close = "]" if b is last else ")"  # the last bin includes 1.0
            out.append(f"  - confidence [{b['lo']:.1f}, {b['hi']:.1f}{close}: {b['n']} events, "
                       f"mean confidence {_num(conf)}, accuracy {_num(acc)} "
                       f"(gap {_num(gap)})")  # fmt: skip
    return [*out, ""]


def _slices_md(sl: dict[str, Any]) -> list[str]:
    """The Slices section: every tracked slice per model (worst first, each dimension's other
    last) with its interval and alarm mark, and the alarm episodes."""
    metric = sl.get("metric") or "the first metric"
    out = ["", "## Slices", "",
           f"{metric} by {', '.join(sl.get('by') or [])}, per slice since it is tracked (at "
           f"most {sl.get('tracked')} per dimension, the rest pooled in other); alarm when a "
           f"slice is beyond the overall by {_num(sl.get('margin'))} (its interval entirely).",
           ""]  # fmt: skip
    for name, entry in (sl.get("models") or {}).items():
        rows = entry.get("slices") or []
        head = f"{name}" + (f" ({entry['metric']})" if entry.get("metric") else "")
        out += [f"**{head}**: overall {_num(entry.get('overall'))}.", ""]
        if not rows:
            out += ["No scored event in a slice.", ""]
            continue
        out += ["| slice | n | value | interval | alarm |", "|---|---|---|---|---|"]
        for r in rows:
            interval = (f"[{_num(r.get('lo'))}, {_num(r.get('hi'))}]"
                        if r.get("lo") is not None or r.get("hi") is not None else "-")  # fmt: skip
            out.append(f"| {_cell(r.get('slice'))} | {r.get('n')} | {_num(r.get('value'))} | "
                       f"{interval} | {'ALARM' if r.get('alarm') else ''} |")  # fmt: skip
        out.append("")
    eps = sl.get("alarms") or []
    if eps:
        out.append(f"Alarm episodes ({len(eps)}):")
        for e in eps:
            out.append(f"- {e.get('model')} {e.get('slice')}: {_span(e.get('start'), e.get('end'))}"
                       f", {_num(e.get('value'))} vs overall {_num(e.get('overall'))}")  # fmt: skip
    else:
        out.append("No slice alarm.")
    return out


def card_html(facts: dict[str, Any]) -> str:
    """The card as one HTML page (the Markdown rendered by markdown-it, tables on)."""
    import html

    from markdown_it import MarkdownIt

    from stream_ml.continual.html import _STYLE

    body = MarkdownIt("commonmark").enable("table").render(card_markdown(facts))
    title = html.escape(
        f"model card: {facts['snapshot']['engine']} v{facts['snapshot']['version']}"
    )
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")  # fmt: skip
