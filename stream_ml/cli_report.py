"""The run report of ``stream-ml run`` (and of a scenario): its shape and how it is printed.

:func:`shape_report` makes the report (the engine summary's keys, each of :data:`REPORT_KEYS`,
plus ``runtime``, ``run`` and ``engines``), :func:`bytewax_report` the same from a Bytewax run's
result; :func:`print_report` prints it for a person: the models table (counts, each metric
cumulative and rolling, ECE when a model has a calibration window), the worst slices per model
(value with its interval, n, alarm mark) when ``[evaluation] slices`` is configured, the
experiment's verdict, drift monitors with their episodes and the slice and calibration alarms,
feature-stage counters, snapshots, labels, bad records and timing. ``stream_ml.cli`` re-exports
every name that was defined there before.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out_console = Console()

#: the engine records of slice and calibration monitoring the run tally keeps
ALARM_TYPES = ("slice_alarm", "calibration_alarm")
#: how many of them it keeps (the counts are of all)
ALARMS_KEPT = 20
#: worst slices shown per model
WORST_SLICES = 5



class RunTally:
    """A sink that counts what a run served: per model the predictions it served and those it
    answered (served, or as a shadow / candidate), the ``snapshot`` records, and the
    ``slice_alarm`` / ``calibration_alarm`` records (counted; the last :data:`ALARMS_KEPT` kept).

    >>> t = RunTally()
    >>> t.write({"kind": "prediction", "model": "a", "shadow": {"b": 1}})
    >>> t.write({"kind": "snapshot", "version": 3, "events": 10, "offset": 11})
    >>> dict(t.served), dict(t.answered), t.snapshots
    ({'a': 1}, {'a': 1, 'b': 1}, 1)
    """

    def __init__(self) -> None:
        self.served: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.snapshots = 0
        self.last_snapshot: dict[str, Any] | None = None
        self.alarm_counts: Counter[str] = Counter()
        self.alarms: list[dict[str, Any]] = []

    def write(self, output: dict[str, Any]) -> None:
        kind = output.get("kind")
        if kind == "prediction":
            model = str(output.get("model"))
            self.served[model] += 1
            self.answered[model] += 1
            shadow = output.get("shadow")
            if shadow:
                for name in shadow:
                    self.answered[name] += 1
        elif kind == "snapshot":
            self.snapshots += 1
            self.last_snapshot = output
        elif (kind or output.get("type")) in ALARM_TYPES:
            self._alarm(output)

    def _alarm(self, record: dict[str, Any]) -> None:
        kind = str(record.get("kind") or record.get("type"))
        self.alarm_counts[kind] += 1
        self.alarms.append({**record, "type": kind})
        del self.alarms[:-ALARMS_KEPT]

    def evaluation_alarms(self) -> dict[str, Any] | None:
        """The report's ``evaluation_alarms``: counts of slice and calibration alarm records
        and the last ones, oldest first (None when the run had none)."""
        if not self.alarms:
            return None
        return {"slice": self.alarm_counts.get("slice_alarm", 0),
                "calibration": self.alarm_counts.get("calibration_alarm", 0),
                "recent": [dict(a) for a in self.alarms]}  # fmt: skip

    def merge(self, other: dict[str, Any]) -> None:
        """Add the counts of another tally's :meth:`as_dict` (another process's)."""
        self.served.update(other.get("served") or {})
        self.answered.update(other.get("answered") or {})
        self.snapshots += int(other.get("snapshots") or 0)
        last = other.get("last_snapshot")
        if last is not None and (
            self.last_snapshot is None or last["version"] > self.last_snapshot["version"]
        ):
            self.last_snapshot = last
        for record in other.get("alarms") or []:
            self._alarm(record)

    def as_dict(self) -> dict[str, Any]:
        return {
            "served": dict(self.served),
            "answered": dict(self.answered),
            "snapshots": self.snapshots,
            "last_snapshot": self.last_snapshot,
            "alarms": list(self.alarms),
        }

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


#: Every run report has these top-level keys, whatever the runtime (``None`` when not known or
#: not configured).
REPORT_KEYS = (
    "engine", "events", "feedback", "models", "labels", "errors", "outbox_dropped", "features",
    "experiment", "drift", "records", "next_offset", "digest", "snapshots", "engines", "runtime",
    "run", "slices", "evaluation_alarms",
)  # fmt: skip


def add_counts(models: dict[str, Any], tally: RunTally) -> None:
    """Put the tally's served and answered counts into each model's entry where the engine's
    summary has none (the engine counts them per model since its creation, across resumes; the
    tally only sees this run's outputs)."""
    for name, m in models.items():
        if m.get("served") is None:
            m["served"] = tally.served.get(name, 0)
        if m.get("answered") is None:
            m["answered"] = tally.answered.get(name, 0)


def shape_report(summary: dict[str, Any], runtime: dict[str, Any], run: dict[str, Any],
                 engines: dict[str, Any] | None = None, *,
                 evaluation_alarms: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The run report: ``summary``'s keys (each of :data:`REPORT_KEYS`, ``None`` when absent),
    ``runtime`` and ``run``, ``engines`` (per-key summaries of a keyed run, else None), and
    ``evaluation_alarms`` (:meth:`RunTally.evaluation_alarms`: the slice and calibration alarm
    records this run emitted, else None)."""
    out = {k: summary.get(k) for k in REPORT_KEYS}
    out.update({k: v for k, v in summary.items() if k not in ("kind", "id")})
    out["runtime"], out["run"], out["engines"] = runtime, run, engines
    out["evaluation_alarms"] = evaluation_alarms
    return out


def _timing(elapsed: float, records: int, events: int) -> dict[str, Any]:
    return {
        "elapsed_s": elapsed,
        "records": records,
        "events": events,
        "records_per_s": records / elapsed if elapsed > 0 else None,
        "events_per_s": events / elapsed if elapsed > 0 else None,
    }


def _n(v: Any) -> str:
    return (
        f"{v:,}"
        if isinstance(v, int) and not isinstance(v, bool)
        else ("-" if v is None else str(v))
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.4f}"
    return _n(v)


def _models_table(summary: dict[str, Any], rolling: bool, ece: bool = True) -> Table:
    models = summary["models"] or {}
    names = list(next(iter(models.values()))["metrics"]) if models else []
    title = f"{summary['engine']}: {_n(summary['events'])} events, {_n(summary['feedback'])} labels"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("model", overflow="fold")  # a long name wraps, never loses its end
    table.add_column("role", overflow="fold")
    counts = [c for c in ("served", "answered", "scored", "learned")
              if any(c in m for m in models.values())]  # fmt: skip
    if all(m.get("answered") == m.get("served") for m in models.values()):
        counts = [c for c in counts if c != "answered"]
    for c in counts:
        table.add_column(c, justify="right")
    for n in names:
        table.add_column(n, justify="right")
        if rolling:
            table.add_column("rolling", justify="right")
    calibrated = ece and any(isinstance(m.get("calibration"), dict) for m in models.values())
    if calibrated:
        table.add_column("ECE", justify="right")
    for name, m in models.items():
        cells = [_n(m.get(c)) for c in counts]
        for n in names:
            cells.append(_fmt(m["metrics"].get(n)))
            if rolling:
                cells.append(_fmt((m.get("rolling") or {}).get(n)))
        if calibrated:
            cells.append(_ece(m.get("calibration")))
        table.add_row(name, m.get("role", ""), *cells)
    return table


def _ece_note(models: dict[str, Any]) -> str | None:
    window = next((m["calibration"].get("window") for m in models.values()
                   if isinstance(m.get("calibration"), dict)), None)  # fmt: skip
    if window is None:
        return None
    return (f"ECE: expected calibration error (top label, equal-width bins) over the last "
            f"{_n(window)} scored events with probabilities")  # fmt: skip


def _ece(cal: Any) -> str:
    """A model's ECE cell: the value, ``-`` before any probability was scored, blank for a
    model without probabilities (no calibration window)."""
    if not isinstance(cal, dict):
        return ""
    return _fmt(cal.get("ece"))


def _print_models(summary: dict[str, Any]) -> None:
    """One row per model: role, counts, each metric (cumulative, then over the rolling window),
    ECE; ``answered`` only when some model answered more than it served (shadows). The rolling
    columns, then the ECE, are left out when the table would not fit the terminal."""
    from rich.measure import Measurement

    wide = out_console.options.update(width=10_000)
    tries = ((True, True, None), (False, True, "rolling metrics"),
             (False, False, "rolling metrics and ECE"))  # fmt: skip
    for rolling, ece, why in tries:
        table, left_out = _models_table(summary, rolling=rolling, ece=ece), why
        if Measurement.get(out_console, wide, table).maximum <= out_console.width:
            break
    if left_out is not None:
        table.caption = f"{left_out} left out at this width (--json has them)"
    out_console.print(table)
    ece_note = _ece_note(summary.get("models") or {}) if ece else None
    if ece_note is not None:
        out_console.print(ece_note, markup=False, highlight=False)


def _test_text(t: dict[str, Any]) -> str:
    verdict = "rejected" if t.get("rejected") else "not rejected"
    return (
        f"difference {_fmt(t.get('difference'))} [{_fmt(t.get('low'))}, {_fmt(t.get('high'))}], "
        f"p {_fmt(t.get('p_value'))}: {verdict} at alpha {t.get('alpha')}"
    )


def _print_experiment(exp: dict[str, Any], models: dict[str, Any]) -> None:
    say = lambda s: out_console.print(s, markup=False, highlight=False)  # noqa: E731
    say(
        f"experiment {exp.get('experiment')} ({exp.get('kind')}): "
        f"{_n(exp.get('decisions'))} decisions, {_n(exp.get('rewards'))} rewards"
    )
    width = max((len(a) for a in exp.get("arms") or {}), default=4)
    for arm, a in (exp.get("arms") or {}).items():
        served = (models.get(arm) or {}).get("served")
        say(
            f"  {arm:<{width}} served {_n(served):>7}  rewarded {_n(a.get('n')):>7}  "
            f"mean {_fmt(a.get('mean'))} [{_fmt(a.get('low'))}, {_fmt(a.get('high'))}]"
        )
    test = exp.get("test")
    if test:
        for arm, t in (test.get("tests") or {}).items():
            say(f"  {t.get('test', 'test')}, {arm} vs {test.get('control')}: {_test_text(t)}")
        status = test.get("status")
        say(f"  verdict: {status}" + (f", {test['winner']} wins" if test.get("winner") else ""))
    elif exp.get("guard"):
        g = exp["guard"]
        say(f"  canary guard ({g.get('test', 'test')}): {_test_text(g)}")
        say(f"  verdict: {exp.get('state')} at stage {exp.get('stage')} (share {exp.get('share')})")
    else:
        arms = exp.get("arms") or {}
        best = max(arms, key=lambda a: arms[a].get("mean") or -math.inf) if arms else None
        say(f"  verdict: no sequential test for a {exp.get('kind')} router; best mean: {best}")
    if exp.get("promoted"):
        say(f"  promoted: {exp['promoted']}")


def _episode(e: dict[str, Any]) -> str:
    start, end = e.get("start_event"), e.get("end_event")
    peak, thr = e.get("peak_statistic"), e.get("peak_threshold")
    span = f"{_n(start)}-{_n(end)}" if end is not None else f"{_n(start)}-"
    text = f"{e.get('episode')}: events {span}"
    if e.get("severity"):
        text += f", {e['severity']}"
    if peak is not None and not (isinstance(peak, float) and math.isnan(peak)):
        text += f", peak {_fmt(peak)} vs {_fmt(thr)}"
    return text + f" ({e.get('state') or e.get('reason') or ''})"


def _print_drift(summary: dict[str, Any]) -> None:
    for m in summary.get("drift") or []:
        states = sorted(set((m.get("state") or {}).values())) or ["-"]
        out_console.print(
            f"drift {m['name']} ({m['on']}: {', '.join(m.get('fields') or [])}): "
            f"{m.get('alerts', 0)} alert(s), {m.get('episodes', 0)} episode(s), "
            f"now {'/'.join(states)}",
            markup=False,
            highlight=False,
        )
        for e in (m.get("recent_episodes") or [])[-3:]:
            out_console.print(f"  episode {_episode(e)}", markup=False, highlight=False)


def _interval(lo: Any, hi: Any) -> str:
    return "-" if lo is None and hi is None else f"[{_fmt(lo)}, {_fmt(hi)}]"


def worst_slices(entry: dict[str, Any], k: int = WORST_SLICES) -> list[dict[str, Any]]:
    """The ``k`` worst tracked slices of one model's ``summary()["slices"]["models"][name]``
    (the engine lists them worst first; ``other`` is not a slice of its own and is left out).

    >>> worst_slices({"slices": [{"slice": "a=1", "value": 0.5}, {"slice": "other"},
    ...                          {"slice": "a=2", "value": 0.7}]}, k=1)
    [{'slice': 'a=1', 'value': 0.5}]
    """
    return [e for e in entry.get("slices") or [] if not is_other(e.get("slice"))][:k]


def is_other(name: Any) -> bool:
    """Whether a slice is a dimension's pooled rest: ``other`` (one dimension) or
    ``other:<dimension>`` (several)."""
    return name == "other" or (isinstance(name, str) and name.startswith("other:"))


def _bigger_is_better(metric: str) -> bool:
    """Whether the slices' alarm is below the overall (Accuracy...) or above it (an error:
    MAE, MSE, RMSE...), as River's metric says; True for a name it does not know."""
    from stream_ml.evaluation.prequential import build_metric

    try:
        return bool(build_metric(metric).bigger_is_better)
    except Exception:  # a report of a foreign summary: keep the default
        return True


def slices_tables(sl: dict[str, Any]) -> list[tuple[str, Table, str]]:
    """Per model: a heading (the sliced metric overall, the alarm margin), a table of its worst
    slices (value of the sliced metric with its interval, events scored, alarm mark) and a note
    (how many slices are tracked, the ``other`` bucket)."""
    by = ", ".join(str(b) for b in sl.get("by") or []) or "-"
    metric = sl.get("metric") or "metric"
    out = []
    for name, entry in (sl.get("models") or {}).items():
        rows = entry.get("slices") or []
        overall, margin = _fmt(entry.get("overall")), _fmt(sl.get("margin"))
        side = "below" if _bigger_is_better(entry.get("metric") or metric) else "above"
        heading = (f"worst slices of {name} by {by}: {metric} (overall {overall}, alarm "
                   f"{margin} {side})")  # fmt: skip
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        t.add_column("slice", overflow="fold")
        t.add_column("n", justify="right")
        t.add_column(metric, justify="right")
        t.add_column("interval", justify="right")
        t.add_column("alarm")
        for e in worst_slices(entry):
            mark = "ALARM" if e.get("alarm") else ""
            t.add_row(str(e.get("slice")), _n(e.get("n")), _fmt(e.get("value")),
                      _interval(e.get("lo"), e.get("hi")), mark)  # fmt: skip
        shown = len([e for e in rows if not is_other(e.get("slice"))])
        note = f"  {shown} slice(s) tracked (at most {_n(sl.get('tracked'))} per dimension)"
        for o in (e for e in rows if is_other(e.get("slice"))):
            note += (f"; {o.get('slice')}: n {_n(o.get('n'))}, {_fmt(o.get('value'))} "
                     f"{_interval(o.get('lo'), o.get('hi'))}")  # fmt: skip
        out.append((heading, t, note))
    return out


def _print_slices(sl: dict[str, Any]) -> None:
    for heading, table, note in slices_tables(sl):
        out_console.print(heading, markup=False, highlight=False)
        out_console.print(table)
        out_console.print(note, markup=False, highlight=False)


def _slice_episode(a: dict[str, Any]) -> str:
    start, end = a.get("start"), a.get("end")
    span = f"{_n(start)}-{_n(end)}" if end is not None else f"{_n(start)}- (open)"
    return (f"slice alarm {a.get('model')} {a.get('slice')}: events {span}, "
            f"{_fmt(a.get('value'))} vs overall {_fmt(a.get('overall'))}")  # fmt: skip


def _calibration_episode(name: str, cal: dict[str, Any], e: dict[str, Any]) -> str:
    start, end = e.get("start"), e.get("end")
    span = f"{_n(start)}-{_n(end)}" if end is not None else f"{_n(start)}- (open)"
    return (f"calibration alarm {name}: events {span}, ECE {_fmt(e.get('ece'))} over "
            f"{_fmt(cal.get('threshold'))} (now {_fmt(cal.get('ece'))})")  # fmt: skip


def _calibration_record(r: dict[str, Any]) -> str:
    return (f"calibration alarm {r.get('model')}: ECE {_fmt(r.get('ece'))} over "
            f"{_fmt(r.get('threshold'))} at event {_n(r.get('event'))}")  # fmt: skip


def _print_evaluation_alarms(report: dict[str, Any]) -> None:
    """Slice alarm episodes (the summary's, the last five), calibration alarm episodes (each
    model's ``calibration.alarms``, the last five; else this run's ``calibration_alarm``
    records), after the drift monitors."""
    say = lambda s: out_console.print(s, markup=False, highlight=False)  # noqa: E731
    episodes = (report.get("slices") or {}).get("alarms") or []
    if episodes:
        open_ = sum(1 for a in episodes if a.get("end") is None)
        say(f"slices: {len(episodes)} alarm episode(s), {open_} open")
        for a in episodes[-5:]:
            say(f"  {_slice_episode(a)}")
    lines = []
    for name, m in (report.get("models") or {}).items():
        cal = m.get("calibration") if isinstance(m, dict) else None
        if isinstance(cal, dict) and cal.get("alarms"):
            eps = cal["alarms"]
            open_ = sum(1 for e in eps if e.get("end") is None)
            lines.append(f"calibration {name}: {len(eps)} alarm episode(s), {open_} open")
            lines += [f"  {_calibration_episode(name, cal, e)}" for e in eps[-5:]]
    ea = report.get("evaluation_alarms") or {}
    if not lines and ea.get("calibration"):
        records = [r for r in ea.get("recent") or [] if r.get("type") == "calibration_alarm"]
        lines.append(f"calibration: {ea['calibration']} alarm(s)")
        lines += [f"  {_calibration_record(r)}" for r in records[-5:]]
    for line in lines:
        say(line)


def _print_features(f: dict[str, Any]) -> None:
    out_console.print(
        f"features: {_n(f.get('keys'))} keys, {_n(f.get('events'))} events, "
        f"{_n(f.get('late'))} late ({_n(f.get('late_dropped'))} dropped), "
        f"{_n(f.get('out_of_order'))} out of order, {_n(f.get('evictions_ttl'))} TTL / "
        f"{_n(f.get('evictions_lru'))} LRU evictions",
        highlight=False,
    )


def _print_snapshots(snaps: dict[str, Any], run: dict[str, Any]) -> None:
    resumed = run.get("resumed")
    if resumed:
        where = f"snapshot {resumed['version']}" if resumed.get("version") is not None else (
            f"recovery {resumed.get('recovery')}")  # fmt: skip
        at = f" at record {_n(resumed['records'])}" if resumed.get("records") is not None else ""
        out_console.print(f"resumed from {where}{at}", markup=False, highlight=False)
    line = f"snapshots: {_n(snaps.get('written'))} written"
    if snaps.get("path"):
        line += f" to {snaps['path']}"
    last = snaps.get("last")
    if last:
        line += f", last version {last['version']} (event {_n(last.get('events'))}, offset "
        line += f"{_n(last.get('offset'))})"
    elif snaps.get("last_version") is not None:
        line += f", last version {snaps['last_version']}"
    out_console.print(line, markup=False, highlight=False)
    if snaps.get("recovery"):
        out_console.print(f"[yellow]{escape(snaps['recovery'])}[/]", highlight=False)


def _print_engines(engines: dict[str, Any]) -> None:
    t = Table(title=f"{len(engines)} engines (one per key)")
    t.add_column("key")
    t.add_column("events", justify="right")
    names = sorted({n for s in engines.values() for n in s.get("models", {})})
    metric = None
    for s in engines.values():
        for m in s.get("models", {}).values():
            metric = metric or next(iter(m["metrics"]), None)
    for n in names:
        t.add_column(f"{n} {metric or ''}".strip(), justify="right")
    for key in sorted(engines)[:20]:
        s = engines[key]
        ms = s.get("models", {})
        cells = [_fmt((ms.get(n) or {}).get("metrics", {}).get(metric)) for n in names]
        t.add_row(key, _n(s.get("events")), *cells)
    out_console.print(t)
    if len(engines) > 20:
        out_console.print(f"... and {len(engines) - 20} more (--json has every key)")


def print_report(report: dict[str, Any]) -> None:
    """The human report of a run (the same for every runtime)."""
    _print_models(report)
    models = report.get("models") or {}
    if report.get("engines"):
        _print_engines(report["engines"])
    if report.get("experiment"):
        _print_experiment(report["experiment"], models)
    if report.get("slices"):
        _print_slices(report["slices"])
    _print_drift(report)
    _print_evaluation_alarms(report)
    if report.get("features"):
        _print_features(report["features"])
    run = report.get("run") or {}
    if report.get("snapshots") or run.get("resumed"):
        _print_snapshots(report.get("snapshots") or {}, run)
    labels = report.get("labels") or {}
    out_console.print(
        f"labels: {_n(labels.get('pending'))} pending, {_n(labels.get('expired'))} expired, "
        f"{_n(labels.get('evicted'))} evicted",
        highlight=False,
    )
    errors = report.get("errors") or {}
    if errors.get("total"):
        out_console.print(
            f"[yellow]{errors['total']} bad records[/]: {escape(str(errors['by_code']))}"
        )
        for s in errors["samples"][:10]:
            out_console.print(
                f"  {s['offset']}: {s['code']} field={s['field']!r}: {s['reason']}", highlight=False
            )
    else:
        out_console.print("no bad records")
    if run.get("elapsed_s") is not None:
        rt = report.get("runtime") or {}
        where = rt.get("kind", "embedded")
        if where == "bytewax":
            where += f", {rt.get('workers')} worker(s) x {rt.get('processes')} process(es)"
        rate = run.get("records_per_s")
        out_console.print(
            f"done: {_n(run.get('records'))} records ({_n(run.get('events'))} events) in "
            f"{run['elapsed_s']:.2f} s, "
            f"{'-' if rate is None else f'{rate:,.0f}'} records/s ({where})",
            markup=False,
            highlight=False,
        )


_print_summary = print_report


def merge_summaries(keys: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One summary for the engines of a keyed run: counts added up; metrics ``None`` (they do
    not add up: each key's are in the report's ``engines``)."""
    ss = list(keys.values())
    models: dict[str, Any] = {}
    labels: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    features: Counter[str] = Counter()
    samples: list[Any] = []
    for s in ss:
        for name, m in (s.get("models") or {}).items():
            e = models.setdefault(name, {
                "metrics": dict.fromkeys(m.get("metrics") or {}),
                "rolling": dict.fromkeys(m.get("rolling") or {}),
                "scored": 0, "learned": 0, "role": m.get("role"), "version": None,
            })  # fmt: skip
            e["scored"] += m.get("scored") or 0
            e["learned"] += m.get("learned") or 0
        for k in ("pending", "expired", "evicted"):
            labels[k] += (s.get("labels") or {}).get(k) or 0
        by_code.update((s.get("errors") or {}).get("by_code") or {})
        samples += (s.get("errors") or {}).get("samples") or []
        for k, v in (s.get("features") or {}).items():
            if isinstance(v, int):
                features[k] += v
    return {
        "engine": ss[0].get("engine"),
        "events": sum(s.get("events") or 0 for s in ss),
        "feedback": sum(s.get("feedback") or 0 for s in ss),
        "models": models,
        "labels": {**labels, "lag_mean": None,
                   "lag_max": max((s.get("labels") or {}).get("lag_max") or 0 for s in ss)},
        "errors": {"total": sum(by_code.values()), "by_code": dict(sorted(by_code.items())),
                   "samples": samples[:10]},
        "outbox_dropped": sum(s.get("outbox_dropped") or 0 for s in ss),
        "features": dict(features) if features else None,
    }  # fmt: skip


def bytewax_report(
    result: dict[str, Any],
    tally: RunTally,
    elapsed: float,
    *,
    keyed: bool,
    snapshots_path: str | None = None,
    recovery: str | None = None,
    resumed: bool = False,
) -> dict[str, Any]:
    """The run report of :func:`~stream_ml.runtime.bytewax.run.run_bytewax`'s result, with the
    same top-level keys as an embedded run's (:data:`REPORT_KEYS`)."""
    for t in result.get("tallies") or []:
        tally.merge(t)
    keys = {k: {n: v for n, v in s.items() if n not in ("kind", "id")}
            for k, s in (result.get("keys") or {}).items()}  # fmt: skip
    engines = None
    if keys and not keyed and len(keys) == 1:
        summary = dict(next(iter(keys.values())))
    elif keys:
        summary, engines = merge_summaries(keys), keys
    else:
        summary = {}
    if summary.get("models"):
        add_counts(summary["models"], tally)
    if snapshots_path is not None:
        last = tally.last_snapshot
        summary["snapshots"] = {
            "path": snapshots_path,
            "written": tally.snapshots,
            "last": None if last is None else {k: last.get(k) for k in
                                              ("version", "events", "offset", "tags", "note")},
            "last_version": None if last is None else last.get("version"),
            "resumed_from": None,
        }  # fmt: skip
    runtime = {"kind": "bytewax", "workers": result.get("workers"),
               "processes": result.get("processes"), "keyed": keyed,
               "engines": len(keys)}  # fmt: skip
    run = {**_timing(elapsed, 0, summary.get("events") or 0), "records": None,
           "records_per_s": None, "interrupted": False,
           "resumed": {"recovery": recovery, "version": None, "records": None} if resumed else None,
           "recovery": recovery}  # fmt: skip
    return shape_report(summary, runtime, run, engines,
                        evaluation_alarms=tally.evaluation_alarms())  # fmt: skip
