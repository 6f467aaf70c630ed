"""The ``stream-ml`` command.

``stream-ml run CONFIG`` replays a config's source through its engine, with a progress bar
(records read of the source's row count, rate and time left) and a final report: metrics with
served / answered / scored / learned counts per model, the experiment's verdict, drift episodes,
feature-stage counters, snapshots written (where, last version) and the resume point, elapsed
time and records per second. ``--json`` prints the same report as one strict JSON object
(``null`` for a missing or non-finite number, never ``NaN``) whose top-level keys are the same for
every runtime (``--runtime embedded`` or ``bytewax``). ``stream-ml scenario list`` and
``stream-ml scenario run NAME`` replay the simulated scenarios.

Exit codes:

===  ==========================================================================================
0    done: the source was read to its end (or to ``--limit``)
1    the config or a file is wrong (unreadable, an unknown key, a missing column, a store refused)
2    ``--strict`` stopped at a bad record (the message names its location)
130  interrupted (Ctrl-C, SIGINT): at the next record boundary a snapshot is taken first when
     the config has ``[snapshots]``; the run resumes from it when started again with
     ``resume = true`` (the default). A second Ctrl-C stops at once, without a snapshot.
===  ==========================================================================================
"""

from __future__ import annotations

import gzip
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from stream_ml.errors import ConfigError, ConnectorError, EventError, StreamMLError

err_console = Console(stderr=True)
out_console = Console()

#: The exit code of an interrupted run (128 + SIGINT, as shells report it).
INTERRUPTED = 130


# -- strict JSON ------------------------------------------------------------------------------


def strict_json(obj: Any) -> Any:
    """``obj`` with every value JSON can hold exactly: NaN and infinities become ``None``,
    numpy scalars Python numbers, tuples and sets lists, keys strings, anything else its text.

    >>> strict_json({"a": float("nan"), "b": (1, float("inf")), 2: {"c": 0.5}})
    {'a': None, 'b': [1, None], '2': {'c': 0.5}}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        return strict_json(obj.item())
    return str(obj)


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (:func:`strict_json`; ``allow_nan=False``).

    >>> dumps({"x": float("nan")}, indent=None)
    '{"x": null}'
    """
    return json.dumps(strict_json(obj), sort_keys=True, indent=indent, allow_nan=False)


_dump = dumps


# -- progress ---------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    """Records per second, as rich estimates it over the last seconds."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rec/s" if speed is None else f"{speed:,.0f} rec/s", style="cyan")


#: Files up to these sizes are counted for the progress bar's total (about a second at most).
COUNT_PLAIN_BYTES = 512 * 2**20
COUNT_GZIP_BYTES = 32 * 2**20


def count_lines(path: str) -> int | None:
    """Lines in a file (gzip read through), None when it is too big to count cheaply.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f.csv")
    >>> with open(p, "w") as f:
    ...     _ = f.write("a\\n1\\n2")
    >>> count_lines(p)
    3
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    gz = str(path).endswith(".gz")
    if size > (COUNT_GZIP_BYTES if gz else COUNT_PLAIN_BYTES):
        return None
    n, last = 0, b"\n"
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
                last = chunk[-1:]
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return n + (last != b"\n")


def source_total(source: Any, limit: int | None = None) -> int | None:
    """Records a config's source holds, when that is cheap to know: lines of a file (less
    the CSV header), a River dataset's ``n_samples``; capped by ``limit``. None: unknown."""
    from stream_ml.config import CsvSourceConfig, JsonlSourceConfig, RiverSourceConfig

    total: int | None = None
    if isinstance(source, CsvSourceConfig | JsonlSourceConfig):
        lines = count_lines(str(source.path))
        if lines is not None:
            total = max(0, lines - (1 if isinstance(source, CsvSourceConfig) else 0))
    elif isinstance(source, RiverSourceConfig):
        total = source.limit
        if total is None:
            try:
                import river.datasets

                total = getattr(getattr(river.datasets, source.dataset), "n_samples", None)
            except (AttributeError, ImportError):
                total = None
    if limit is not None:
        total = limit if total is None else min(total, limit)
    return total


@contextmanager
def _progress(show: bool, total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total)

        def update(n: int) -> None:
            known = bar.tasks[task].total
            if known is not None and n > known:  # the count was an estimate (quoted newlines)
                bar.update(task, total=n)
            bar.update(task, completed=n)

        yield update


# -- Ctrl-C -----------------------------------------------------------------------------------


class Stopped(Exception):  # a signal, not an error
    """Raised by :class:`StopAtBoundary` between two records once Ctrl-C was pressed."""


class StopAtBoundary:
    """A source that stops between two records after SIGINT (the first one; a second one
    raises ``KeyboardInterrupt`` at once). Everything else is the wrapped source's.

    Installed as a context manager (``with stop: ...``) in the main thread only.
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self.asked = False
        self._old: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def read(self) -> Iterator[Any]:
        for item in self.source.read():
            if self.asked:
                raise Stopped
            yield item

    def _handler(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

    def __enter__(self) -> StopAtBoundary:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


def _interrupted(message: str) -> None:
    err_console.print(f"[bold yellow]interrupted[/]: {escape(message)}", highlight=False)
    sys.exit(INTERRUPTED)


def _fail(exc: StreamMLError, code: int) -> None:
    err_console.print(f"[bold red]error[/]: {escape(str(exc))}", highlight=False)
    sys.exit(code)


# -- the run report ---------------------------------------------------------------------------


class RunTally:
    """A sink that counts what a run served: per model the predictions it served and those it
    answered (served, or as a shadow / candidate), and the ``snapshot`` records.

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "served": dict(self.served),
            "answered": dict(self.answered),
            "snapshots": self.snapshots,
            "last_snapshot": self.last_snapshot,
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
    "run",
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
                 engines: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The run report: ``summary``'s keys (each of :data:`REPORT_KEYS`, ``None`` when absent),
    ``runtime`` and ``run``, and ``engines`` (per-key summaries of a keyed run, else None)."""
    out = {k: summary.get(k) for k in REPORT_KEYS}
    out.update({k: v for k, v in summary.items() if k not in ("kind", "id")})
    out["runtime"], out["run"], out["engines"] = runtime, run, engines
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


def _models_table(summary: dict[str, Any], rolling: bool) -> Table:
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
    for name, m in models.items():
        cells = [_n(m.get(c)) for c in counts]
        for n in names:
            cells.append(_fmt(m["metrics"].get(n)))
            if rolling:
                cells.append(_fmt((m.get("rolling") or {}).get(n)))
        table.add_row(name, m.get("role", ""), *cells)
    return table


def _print_models(summary: dict[str, Any]) -> None:
    """One row per model: role, counts, each metric (cumulative, then over the rolling window);
    ``answered`` only when some model answered more than it served (shadows). The rolling
    columns are left out when the table would not fit the terminal."""
    from rich.measure import Measurement

    table = _models_table(summary, rolling=True)
    wide = out_console.options.update(width=10_000)
    width = Measurement.get(out_console, wide, table).maximum
    if width > out_console.width:
        table = _models_table(summary, rolling=False)
        table.caption = "rolling metrics left out at this width (--json has them)"
    out_console.print(table)


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
    _print_drift(report)
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
    return shape_report(summary, runtime, run, engines)


# -- commands ---------------------------------------------------------------------------------


@click.group()
@click.version_option(package_name="stream-ml")
def main() -> None:
    """stream-ml: online learning on event streams, with delayed labels and prequential metrics.

    Exit codes: 0 done, 1 config or file problem, 2 --strict stopped at a bad record,
    130 interrupted (Ctrl-C; a snapshot is taken first when [snapshots] is configured).
    """


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, no table.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 2).")
@click.option("--limit", type=int, default=None, help="Read at most this many records.")
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Show the progress bar on stderr (default: when stderr is a terminal and not --json).",
)
@click.option(
    "--runtime",
    type=click.Choice(["embedded", "bytewax"]),
    default="embedded",
    show_default=True,
    help="Run in this process, or as a Bytewax dataflow.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Bytewax workers.")
@click.option("--processes", type=int, default=1, show_default=True, help="Bytewax processes.")
@click.option(
    "--recovery",
    type=click.Path(file_okay=False),
    default=None,
    help="Bytewax recovery directory (resume a stopped run exactly).",
)
@click.option(
    "--keyed/--global",
    "keyed",
    default=False,
    show_default=True,
    help="Bytewax: one engine per record key, or one global engine.",
)
@click.option(
    "--key-groups",
    type=click.IntRange(min=0),
    default=128,
    show_default=True,
    help="Bytewax --keyed: key groups (units of state and of spreading; 0: one per key).",
)
@click.option(
    "--snapshot-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Bytewax: seconds between recovery snapshots.",
)
def run(config: str, as_json: bool, strict: bool, limit: int | None, show_progress: bool | None,
        runtime: str, workers: int, processes: int, recovery: str | None, keyed: bool,
        key_groups: int, snapshot_interval: float) -> None:  # fmt: skip
    """Replay CONFIG's source through its engine and report metrics per model.

    Exit codes: 0 done, 1 config or file problem, 2 --strict stopped at a bad record,
    130 interrupted (Ctrl-C; a snapshot is taken first when [snapshots] is configured).
    """
    try:
        if runtime == "bytewax":
            report = _run_bytewax(config, workers, processes, recovery, keyed, snapshot_interval,
                                  key_groups)  # fmt: skip
        else:
            report = _run_embedded(config, as_json, strict, limit, show_progress)
    except KeyboardInterrupt:
        _interrupted("stopped at once (Ctrl-C twice, or before the run started): no snapshot")
    if as_json:
        click.echo(dumps(report))
    else:
        print_report(report)


def _run_embedded(config: str, as_json: bool, strict: bool, limit: int | None,
                  show_progress: bool | None) -> dict[str, Any]:  # fmt: skip
    from stream_ml.config import load_config
    from stream_ml.runtime.build import build_replay, close_replay

    try:
        cfg = load_config(config)
        show = (not as_json and err_console.is_terminal) if show_progress is None else show_progress
        total = source_total(cfg.source, limit) if show and cfg.source is not None else None
        tally = RunTally()
        with _progress(show, total, f"run {config}") as prog:
            replay = build_replay(cfg, strict=strict, progress=prog, extra_sinks=[tally])
            try:
                return _drive(replay, cfg, limit, tally)
            finally:
                close_replay(replay)
    except EventError as exc:
        _fail(exc, 2)
    except (ConfigError, ConnectorError) as exc:
        _fail(exc, 1)
    except StreamMLError as exc:
        _fail(exc, 2)
    raise AssertionError("unreachable")  # pragma: no cover


def _drive(replay: Any, cfg: Any, limit: int | None, tally: RunTally) -> dict[str, Any]:
    """Run ``replay`` with Ctrl-C stopping it at a record boundary (a snapshot then); the
    report of the run."""
    driver = replay.driver
    written: list[Any] = []
    before = driver.committed

    def committed(info: Any) -> None:
        written.append(info)
        if before is not None:
            before(info)

    driver.committed = committed
    resumed = None
    if replay.resumed_from is not None:
        info = replay.resumed_from
        resumed = {"version": info.version, "records": replay.records, "events": info.events,
                   "offset": info.offset}  # fmt: skip
    records0, events0 = replay.records, replay.engine.seq
    stop = StopAtBoundary(replay.source)
    replay.source = stop
    t0 = time.perf_counter()
    try:
        with stop:
            summary = replay.run(limit=limit)
    except Stopped:
        out: list[Any] = []
        info = driver.checkpoint("interrupted", out)
        if out and driver.flush is not None:
            driver.flush(out)
        where = f"at record {replay.records:,} (event {replay.engine.seq:,})"
        if replay.snapshots is None:
            _interrupted(f"{where}; no [snapshots] in the config, nothing saved")
        path = cfg.snapshots.path
        if info is None:
            _interrupted(f"{where}; snapshot {replay.snapshots.parent} in {path} already holds "
                         "it: run the same command to resume")  # fmt: skip
        _interrupted(f"{where}; snapshot {info.version} written to {path}: run the same command "
                     "to resume from it")  # fmt: skip
    elapsed = time.perf_counter() - t0
    add_counts(summary["models"], tally)
    snaps = summary.get("snapshots")
    if snaps is not None:
        last = written[-1] if written else None
        snaps["path"] = str(cfg.snapshots.path)
        snaps["written"] = len(written)
        snaps["last"] = None if last is None else {
            "version": last.version, "events": last.events, "offset": last.offset,
            "tags": list(last.tags), "note": last.note,
        }  # fmt: skip
    runtime = {"kind": "embedded", "workers": 1, "processes": 1, "keyed": False, "engines": 1}
    run = {**_timing(elapsed, replay.records - records0, replay.engine.seq - events0),
           "interrupted": False, "resumed": resumed, "recovery": None}  # fmt: skip
    return shape_report(summary, runtime, run)


def _run_bytewax(config: str, workers: int, processes: int, recovery: str | None, keyed: bool,
                 snapshot_interval: float, key_groups: int = 128) -> dict[str, Any]:  # fmt: skip
    from pathlib import Path

    from stream_ml.config import load_config
    from stream_ml.runtime.bytewax_flow import run_bytewax

    tally = RunTally()
    resumed = recovery is not None and any(Path(recovery).glob("part-*.sqlite3"))
    try:
        cfg = load_config(config)
        t0 = time.perf_counter()
        result = run_bytewax(cfg if processes == 1 else config, workers, processes, recovery,
                             keyed=keyed, snapshot_interval=snapshot_interval,
                             key_groups=key_groups, extra_sinks=[tally])  # fmt: skip
        elapsed = time.perf_counter() - t0
    except KeyboardInterrupt:
        saved = (f"the recovery directory {recovery} resumes it (run the same command)"
                 if recovery else "no --recovery, nothing saved")  # fmt: skip
        _interrupted(f"the Bytewax run stopped; {saved}")
    except EventError as exc:
        _fail(exc, 2)
    except StreamMLError as exc:
        _fail(exc, 1)
    snaps = None if cfg.snapshots is None else str(cfg.snapshots.path)
    return bytewax_report(result, tally, elapsed, keyed=keyed, snapshots_path=snaps,
                          recovery=recovery, resumed=resumed)  # fmt: skip


@main.group()
def scenario() -> None:
    """Seeded simulated replays with known ground truth."""


@scenario.command("list")
def scenario_list() -> None:
    """List the scenarios."""
    import scenarios

    for name in scenarios.names():
        sc = scenarios.get(name)
        click.echo(f"{name:<20} {sc.description} (default {sc.default_events} events)")


@scenario.command("run")
@click.argument("name")
@click.option("--events", type=int, default=None, help="Number of observations.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (full precision).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report (plots) to this file.")  # fmt: skip
def scenario_run(
    name: str, events: int | None, seed: int, as_json: bool, html_path: str | None = None
) -> None:
    """Replay scenario NAME and print its report (numbers to 4 significant digits; --json
    keeps full precision; --html FILE writes the plots: metric over time per model with the
    true drift points and the alarms, traffic per arm)."""
    import scenarios
    from scenarios.runner import human_report, run_scenario

    try:
        sc = scenarios.get(name)
        n = events or sc.default_events
        show = not as_json and err_console.is_terminal
        with _progress(show, n, f"scenario {name}") as prog:
            result = run_scenario(sc, events=n, seed=seed, progress=prog)
    except KeyboardInterrupt:
        _interrupted(f"scenario {name} stopped: nothing saved")
    except StreamMLError as exc:
        _fail(exc, 1)
    if html_path:
        from stream_ml.continual.html import scenario_html, write_html

        write_html(html_path, scenario_html(result))
        err_console.print(f"report written to {html_path}", highlight=False)
    if as_json:
        click.echo(dumps(result))
        return
    _print_scenario(result, human_report)


def _print_scenario(result: dict[str, Any], human: Callable[[Any], Any]) -> None:
    summary, report = result["summary"], result["report"]
    print_report(summary)
    timeline = summary.get("timeline", [])
    if timeline:
        names = list(summary["models"])
        metric = next(iter(next(iter(timeline))["models"].values()))
        for m in metric:
            t = Table(title=f"rolling {m} over time")
            t.add_column("events", justify="right")
            for n in names:
                t.add_column(n, justify="right")
            step = max(1, len(timeline) // 20)
            for point in timeline[::step]:
                t.add_row(str(point["events"]), *[_fmt(point["models"][n][m]) for n in names])
            out_console.print(t)
    out_console.print_json(dumps(human(report)))


def _register() -> None:
    from stream_ml.cli_snapshots import snapshots
    from stream_ml.serve.command import serve

    main.add_command(snapshots)
    main.add_command(serve)
    from stream_ml.cli_continual import backtest, card, freshness

    main.add_command(freshness)
    main.add_command(backtest)
    main.add_command(card)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
