"""``stream-ml freshness``, ``stream-ml backtest`` and ``stream-ml card`` (see docs/continual.md).

* ``freshness CONFIG`` (or ``--scenario NAME``): one replay with every model under every update
  policy; a table, ``--json``, ``--markdown FILE`` and ``--html FILE`` (plotly, one file).
* ``backtest DB --versions 3,5 --on SOURCE``: stored snapshots' models on a window of data, no
  learning; metrics per version and model.
* ``card DB VERSION``: the model card of one snapshot, Markdown on stdout or to ``--markdown``,
  and ``--html``.

Exit codes: 0 done; 1 a config, a file, a snapshot or an option is wrong.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from stream_ml.errors import StreamMLError

out_console = Console(width=None if sys.stdout.isatty() else 160)  # tables uncut in files
err_console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error[/]: {exc}", highlight=False)
    sys.exit(1)


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{what} must be integers separated by commas: {text!r}") from None


def _fmt(v: Any, sign: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:+.4f}" if sign else f"{v:.4f}"
    return str(v)


@click.command("freshness")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--scenario", default=None, help="Run a simulated scenario instead of CONFIG.")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    help="continual, every:K, frozen:N or stateless:W:K (repeat; default: a set).",
)
@click.option("--every", default=None, help="Mini-batch periods K, e.g. 1,100,1000.")
@click.option("--frozen", type=int, default=None, help="Add a model frozen after N labels.")
@click.option(
    "--stateless",
    "stateless",
    multiple=True,
    help="Add stateless retraining W:K (window W labels, every K labels).",
)
@click.option("--model", "models", multiple=True, help="Only these models of the config.")
@click.option("--limit", type=int, default=None, help="Read at most this many records.")
@click.option("--events", type=int, default=None, help="Scenario: number of observations.")
@click.option("--seed", type=int, default=0, show_default=True, help="Scenario seed.")
@click.option(
    "--points",
    type=int,
    default=50,
    show_default=True,
    help="About how many times the rolling metrics are recorded.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--markdown",
    "markdown",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the table as Markdown to this file.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report with its plots to this HTML file (self-contained).",
)
def freshness(config: str | None, scenario: str | None, policies: tuple[str, ...],
              every: str | None, frozen: int | None, stateless: tuple[str, ...],
              models: tuple[str, ...], limit: int | None, events: int | None, seed: int,
              points: int, as_json: bool, markdown: str | None,
              html_path: str | None) -> None:  # fmt: skip
    """Replay CONFIG once with every model under every update policy, side by side."""
    from stream_ml.continual.freshness import (
        DEFAULT_POLICIES,
        run_freshness,
        run_freshness_scenario,
    )

    if (config is None) == (scenario is None):
        raise click.UsageError("give a CONFIG or --scenario NAME (one of them)")
    chosen = list(policies)
    if every:
        chosen += [f"every:{k}" for k in _ints(every, "--every")]
    if frozen is not None:
        chosen.append(f"frozen:{frozen}")
    chosen += [f"stateless:{s}" for s in stateless]
    if chosen and not policies and "continual" not in chosen:
        chosen.insert(0, "continual")  # the reference of every gap
    try:
        if scenario is not None:
            import scenarios

            sc = scenarios.get(scenario)
            exprs = _pick(sc.engine_config(seed), models)
            report = run_freshness_scenario(sc, events=events, seed=seed, models=exprs,
                                            policies=chosen or DEFAULT_POLICIES,
                                            points=points)  # fmt: skip
        else:
            from stream_ml.config import load_config

            assert config is not None
            cfg = load_config(config)
            report = run_freshness(cfg, policies=chosen or DEFAULT_POLICIES,
                                   models=_pick(cfg, models), limit=limit,
                                   points=points)  # fmt: skip
    except StreamMLError as exc:
        _fail(exc)
    if markdown:
        with open(markdown, "w", encoding="utf-8") as f:
            f.write(report.markdown() + "\n")
    if html_path:
        from stream_ml.continual.html import freshness_html, write_html

        write_html(html_path, freshness_html(report))
        err_console.print(f"wrote {html_path}", highlight=False)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    _print_freshness(report)


def _pick(cfg: Any, models: tuple[str, ...]) -> dict[str, str] | None:
    if not models:
        return None
    from stream_ml.errors import ConfigError

    unknown = [m for m in models if m not in cfg.models]
    if unknown:
        raise ConfigError(f"--model {unknown[0]!r}: not a model of the config "
                          f"({', '.join(cfg.models)})")  # fmt: skip
    return {m: cfg.models[m].model for m in models}


def _print_freshness(report: Any) -> None:
    m = report.metrics[0]
    table = Table(title=f"freshness: {report.source}, {report.events} events, "
                        f"{report.labels} labels")  # fmt: skip
    for col in (
        "model",
        "policy",
        "no answer",
        m,
        "gap to continual",
        f"rolling {m}",
        "rolling gap",
    ):
        table.add_column(col, justify="left" if col in ("model", "policy") else "right")
    if report.drift_points:
        table.add_column(f"rolling {m} after drift", justify="right")
    for col in ("updates", "publishes", "learn s"):
        table.add_column(col, justify="right")
    for r in report.rows:
        cells = [r["model"], r["policy"], str(r["unanswered"]), _fmt(r["metrics"][m]),
                 _fmt(r["gap"][m], True),
                 _fmt(r["rolling"][m]), _fmt(r["rolling_gap"][m], True)]  # fmt: skip
        if report.drift_points:
            cells.append(" / ".join(_fmt(a[m]) for a in r["after_drift"]))
        cells += [str(r["updates"]), str(r["publishes"]), f"{r['seconds']:.2f}"]
        table.add_row(*cells)
    out_console.print(table)
    better = "higher" if report.bigger_is_better[m] else "lower"
    out_console.print(f"{m}: {better} is better; gaps are policy minus continual learning of the "
                      f"same model; rolling: the last {report.window} scored; updates: calls to "
                      "the model's learn_one", highlight=False)  # fmt: skip


def _store_options(f: Any) -> Any:
    f = click.option("--key-env", default="STREAM_ML_SNAPSHOT_KEY", show_default=True,
                     help="Environment variable holding the signing key.")(f)  # fmt: skip
    f = click.option("--trust-unsigned", is_flag=True,
                     help="Accept unsigned snapshots (only local, trusted files).")(f)  # fmt: skip
    return f


@click.command("backtest")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--versions", required=True, help="Snapshot versions, e.g. 3,5.")
@click.option(
    "--on",
    "on",
    required=True,
    help="The data: a TOML config (its [source]) or a CSV / JSON Lines file.",
)
@click.option(
    "--start",
    type=int,
    default=0,
    show_default=True,
    help="Source offset (row) of the first record of the window.",
)
@click.option("--limit", type=int, default=None, help="Records in the window (default: all).")
@click.option("--target", default=None, help="Label column of a data file.")
@click.option("--delay", type=int, default=None, help="Label delay (default: the config's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@_store_options
def backtest(db: str, versions: str, on: str, start: int, limit: int | None,
             target: str | None, delay: int | None, as_json: bool, key_env: str,
             trust_unsigned: bool) -> None:  # fmt: skip
    """Evaluate stored snapshots' models on a window of data (no learning)."""
    from stream_ml.continual.backtest import backtest as run

    try:
        rows = run(db, _ints(versions, "--versions"), on, start=start, limit=limit,
                   target=target, delay=delay, key_env=key_env,
                   trust_unsigned=trust_unsigned)  # fmt: skip
    except StreamMLError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    names = list(rows[0]["metrics"]) if rows else []
    table = Table(title=f"backtest on {on}: records {start}..{start + rows[0]['records'] - 1}"
                  if rows else "backtest")  # fmt: skip
    for col in ("version", "trained on (events)", "model", "scored", *names,
                *[f"{n} (rolling)" for n in names]):  # fmt: skip
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        table.add_row(str(r["version"]), str(r["snapshot_events"]), r["model"], str(r["scored"]),
                      *[_fmt(r["metrics"][n]) for n in names],
                      *[_fmt(r["rolling"][n]) for n in names])  # fmt: skip
    out_console.print(table)


@click.command("card")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("version", type=int)
@click.option(
    "--markdown",
    "markdown",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the Markdown card to this file (default: print it).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the card as HTML to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the card's facts as JSON.")
@_store_options
def card(db: str, version: int, markdown: str | None, html_path: str | None, as_json: bool,
         key_env: str, trust_unsigned: bool) -> None:  # fmt: skip
    """Write the model card of snapshot VERSION in DB, from stored facts only."""
    from stream_ml.continual.backtest import open_store
    from stream_ml.continual.card import card_facts, card_html, card_markdown

    try:
        with open_store(db, key_env=key_env, trust_unsigned=trust_unsigned) as store:
            facts = card_facts(store, version)
    except StreamMLError as exc:
        _fail(exc)
    text = card_markdown(facts)
    if markdown:
        with open(markdown, "w", encoding="utf-8") as f:
            f.write(text)
    if html_path:
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(card_html(facts))
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
    elif not markdown:
        click.echo(text, nl=False)
