"""The ``stream-ml`` command.

``stream-ml run CONFIG`` replays a config's source through its engine, with a progress bar and a
final table of metrics per model (``--json``: one JSON object instead). ``stream-ml scenario
list`` and ``stream-ml scenario run NAME`` replay the simulated scenarios.

Exit codes: 0 done; 1 the config or a file is wrong; 2 ``--strict`` stopped at a bad record.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stream_ml.errors import ConfigError, ConnectorError, EventError, StreamMLError

err_console = Console(stderr=True)
out_console = Console()


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, default=_json_default, allow_nan=True)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


@contextmanager
def _progress(show: bool, total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.update(task, completed=n)


def _fail(exc: StreamMLError, code: int) -> None:
    err_console.print(f"[bold red]error[/]: {exc}", highlight=False)
    sys.exit(code)


@click.group()
@click.version_option(package_name="stream-ml")
def main() -> None:
    """stream-ml: online learning on event streams, with delayed labels and prequential metrics."""


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, no table.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 2).")
@click.option("--limit", type=int, default=None, help="Read at most this many records.")
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
def run(config: str, as_json: bool, strict: bool, limit: int | None, runtime: str,
        workers: int, processes: int, recovery: str | None, keyed: bool, key_groups: int,
        snapshot_interval: float) -> None:  # fmt: skip
    """Replay CONFIG's source through its engine and report metrics per model."""
    from stream_ml.config import load_config
    from stream_ml.runtime.build import build_replay, close_replay

    if runtime == "bytewax":
        _run_bytewax(config, as_json, workers, processes, recovery, keyed, snapshot_interval,
                     key_groups)  # fmt: skip
        return
    try:
        cfg = load_config(config)
        show = not as_json and err_console.is_terminal
        with _progress(show, None, f"run {config}") as prog:
            replay = build_replay(cfg, strict=strict, progress=prog)
            try:
                summary = replay.run(limit=limit)
            finally:
                close_replay(replay)
    except EventError as exc:
        _fail(exc, 2)
    except (ConfigError, ConnectorError) as exc:
        _fail(exc, 1)
    except StreamMLError as exc:
        _fail(exc, 2)
    if as_json:
        click.echo(_dump(summary))
    else:
        _print_summary(summary)


def _run_bytewax(config: str, as_json: bool, workers: int, processes: int,
                 recovery: str | None, keyed: bool, snapshot_interval: float,
                 key_groups: int = 128) -> None:  # fmt: skip
    from stream_ml.runtime.bytewax_flow import run_bytewax

    try:
        result = run_bytewax(config, workers, processes, recovery, keyed=keyed,
                             snapshot_interval=snapshot_interval,
                             key_groups=key_groups)  # fmt: skip
    except StreamMLError as exc:
        _fail(exc, 1)
    if as_json:
        click.echo(_dump(result))
        return
    keys = result.get("keys") or {}
    table = Table(title=f"bytewax: {workers} worker(s) x {processes} process(es), "
                        f"{len(keys)} engine(s)")  # fmt: skip
    table.add_column("key")
    table.add_column("events", justify="right")
    table.add_column("model")
    table.add_column("metrics")
    for key, summary in sorted(keys.items()):
        for name, m in summary.get("models", {}).items():
            metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in m["metrics"].items())
            table.add_row(str(key), str(summary.get("events")), name, metrics)
    out_console.print(table)
    if not keys:
        out_console.print("per-key summaries are in the sinks (several processes)")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def _print_drift_and_snapshots(summary: dict[str, Any]) -> None:
    """Drift monitors (alerts, episodes, state) and snapshots (where, resumed from, lost)."""
    for m in summary.get("drift") or []:
        states = sorted(set((m.get("state") or {}).values())) or ["-"]
        out_console.print(
            f"drift {m['name']} ({m['on']}: {', '.join(m.get('fields') or [])}): "
            f"{m.get('alerts', 0)} alert(s), {m.get('episodes', 0)} episode(s), "
            f"now {'/'.join(states)}",
            highlight=False,
        )
        for e in (m.get("recent_episodes") or [])[-3:]:
            out_console.print(f"  episode {_episode(e)}", highlight=False)
    snaps = summary.get("snapshots")
    if snaps:
        line = f"snapshots: last version {snaps.get('last_version')}"
        if snaps.get("resumed_from") is not None:
            line += f", resumed from version {snaps['resumed_from']}"
        out_console.print(line, highlight=False)
        if snaps.get("recovery"):
            out_console.print(f"[yellow]{snaps['recovery']}[/]", highlight=False)


def _episode(e: dict[str, Any]) -> str:
    start, end = e.get("start_event"), e.get("end_event")
    peak, thr = e.get("peak_statistic"), e.get("peak_threshold")
    span = f"{start}-{end}" if end is not None else f"{start}-"
    return (
        f"{e.get('episode')}: events {span}, {e.get('severity')}, peak {_fmt(peak)} vs "
        f"{_fmt(thr)} ({e.get('state', e.get('reason', ''))})"
    )


def _print_summary(summary: dict[str, Any]) -> None:
    models = summary["models"]
    names = next(iter(models.values()))["metrics"].keys() if models else []
    table = Table(
        title=f"{summary['engine']}: {summary['events']} events, {summary['feedback']} labels"
    )
    table.add_column("model")
    table.add_column("role")
    table.add_column("scored", justify="right")
    table.add_column("learned", justify="right")
    for n in names:
        table.add_column(n, justify="right")
        table.add_column(f"{n} (rolling)", justify="right")
    for name, m in models.items():
        cells = []
        for n in names:
            cells += [_fmt(m["metrics"][n]), _fmt(m["rolling"][n])]
        table.add_row(name, m["role"], str(m.get("scored", "")), str(m.get("learned", "")), *cells)
    out_console.print(table)
    _print_drift_and_snapshots(summary)
    labels = summary["labels"]
    out_console.print(
        f"labels: {labels['pending']} pending, {labels['expired']} expired, "
        f"{labels['evicted']} evicted"
    )
    errors = summary["errors"]
    if errors["total"]:
        out_console.print(f"[yellow]{errors['total']} bad records[/]: {errors['by_code']}")
        for s in errors["samples"][:10]:
            out_console.print(
                f"  {s['offset']}: {s['code']} field={s['field']!r}: {s['reason']}", highlight=False
            )
    else:
        out_console.print("no bad records")


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def scenario_run(name: str, events: int | None, seed: int, as_json: bool) -> None:
    """Replay scenario NAME and print its report."""
    import scenarios
    from scenarios.runner import run_scenario

    try:
        sc = scenarios.get(name)
        n = events or sc.default_events
        show = not as_json and err_console.is_terminal
        with _progress(show, None, f"scenario {name}") as prog:
            result = run_scenario(sc, events=n, seed=seed, progress=prog)
    except StreamMLError as exc:
        _fail(exc, 1)
    if as_json:
        click.echo(_dump(result))
        return
    _print_scenario(result)


def _print_scenario(result: dict[str, Any]) -> None:
    summary, report = result["summary"], result["report"]
    _print_summary(summary)
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
    out_console.print_json(_dump({k: v for k, v in report.items()}))


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
