"""The ``stream-ml`` command.

``stream-ml run CONFIG`` replays a config's source through its engine, with a progress bar
(records read of the source's row count, rate and time left) and a final report
(:mod:`stream_ml.cli_report`): metrics with served / answered / scored / learned counts and ECE
per model, the worst slices with their intervals, the experiment's verdict, drift episodes and
slice / calibration alarms, feature-stage counters, snapshots written (where, last version) and
the resume point, elapsed time and records per second. ``--json`` prints the same report as
one strict JSON object (``null`` for a missing or non-finite number, never ``NaN``) whose
top-level keys are the same for every runtime (``--runtime embedded`` or ``bytewax``).
``stream-ml scenario list`` and ``stream-ml scenario run NAME`` replay the simulated scenarios.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
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

from stream_ml.cli_report import (  # noqa: F401 (re-exported: the report lived here)
    REPORT_KEYS,
    RunTally,
    _episode,
    _fmt,
    _models_table,
    _n,
    _print_drift,
    _print_engines,
    _print_experiment,
    _print_features,
    _print_models,
    _print_snapshots,
    _print_summary,
    _test_text,
    _timing,
    add_counts,
    bytewax_report,
    merge_summaries,
    out_console,
    print_report,
    shape_report,
)
from stream_ml.errors import ConfigError, ConnectorError, EventError, StreamMLError

err_console = Console(stderr=True)

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


__all__ = [
    "INTERRUPTED", "REPORT_KEYS", "RunTally", "StopAtBoundary", "Stopped", "add_counts",
    "bytewax_report", "count_lines", "dumps", "main", "merge_summaries", "print_report",
    "shape_report", "source_total", "strict_json",
]  # fmt: skip


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
    if runtime == "bytewax" and limit is not None:
        raise click.UsageError(
            "--limit is not supported with --runtime bytewax (the dataflow reads the whole "
            "source): run the embedded runtime, or give the dataflow a shorter file"
        )
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
        if limit is None:  # [source] limit (a River dataset applies its own as well)
            limit = getattr(cfg.source, "limit", None)
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
    return shape_report(summary, runtime, run, evaluation_alarms=tally.evaluation_alarms())


def _run_bytewax(config: str, workers: int, processes: int, recovery: str | None, keyed: bool,
                 snapshot_interval: float, key_groups: int = 128) -> dict[str, Any]:  # fmt: skip
    from pathlib import Path

    from stream_ml.config import load_config
    from stream_ml.runtime.bytewax_flow import run_bytewax

    tally = RunTally()
    resumed = recovery is not None and any(Path(recovery).glob("part-*.sqlite3"))
    try:
        cfg = load_config(config)
        if getattr(cfg.source, "limit", None) is not None and cfg.source.kind != "river":
            raise ConfigError(
                "source.limit is not supported with --runtime bytewax (the dataflow reads the "
                "whole file): remove it, or give the dataflow a shorter file"
            )
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
    # a scenario's charts (report["plots"]) are data for --json and --html, not for reading
    shown = {k: v for k, v in report.items() if k != "plots"}
    out_console.print_json(dumps(human(shown)))
    if report.get("plots"):
        err_console.print(f"{len(report['plots'])} charts: --json has their data, "
                          "--html FILE draws them", highlight=False)


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
