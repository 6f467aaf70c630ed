"""The module-level ``flow`` for ``python -m bytewax.run stream_ml.runtime.bytewax_flow:flow``.

The dataflow is built from environment variables when ``flow`` is first looked up (so importing
this module costs nothing and needs no configuration):

========================  ====================================================================
``STREAM_ML_CONFIG``      path of the engine config (TOML, or JSON with the same keys); required
``STREAM_ML_KEYED``       ``1``: one engine per record key; ``0`` (default): one global engine
``STREAM_ML_BATCH_SIZE``  records per input batch (1000)
``STREAM_ML_SNAPSHOTS``   ``1`` (default): pickle engines for recovery; ``0`` when running
                          without ``-r`` to save the pickling cost
``STREAM_ML_REPORT``      ``table``: print the run report (the table of ``stream-ml run``) to
                          stdout at the end; ``json``: the report as one JSON object; ``0``:
                          nothing. Default: ``table`` when the config has no ``[[sinks]]``
                          (else the run would print nothing at all), ``0`` otherwise
``STREAM_ML_SUMMARY_DIR`` each process writes its engines' summaries and its tally of served
                          answers to a JSON file there (``run_bytewax`` reads them back)
========================  ====================================================================

With several processes (``-a`` / ``-i``) the report shows the engines of the process that writes
the outputs (the single sink writer); ``stream-ml run --processes N`` collects every process's.

Examples::

    STREAM_ML_CONFIG=examples/keyed.toml STREAM_ML_KEYED=1 \\
        python -m bytewax.run stream_ml.runtime.bytewax_flow:flow -w 2
    python -m bytewax.recovery /tmp/rec 4
    STREAM_ML_CONFIG=... python -m bytewax.run stream_ml.runtime.bytewax_flow:flow -w 2 \\
        -r /tmp/rec -s 5 -b 0

``run_bytewax`` (re-exported here) is the Python entry point behind ``stream-ml run CONFIG
--runtime bytewax``.

>>> import stream_ml.runtime.bytewax_flow as m
>>> m.run_bytewax.__name__
'run_bytewax'
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from stream_ml.errors import ConfigError
from stream_ml.runtime.bytewax.run import run_bytewax


def load_any_config(path: str | Path) -> Any:
    """An EngineConfig from a TOML file, or a JSON file with the same keys (``.json``)."""
    from stream_ml.config import load_config, parse_config

    if Path(path).suffix == ".json":
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {str(path)!r}: {exc}") from exc
        return parse_config(data, where=str(path))
    return load_config(path)


def flow_from_env(env: dict[str, str] | None = None) -> Any:
    """Build the dataflow the ``STREAM_ML_*`` environment variables describe."""
    from stream_ml.runtime.bytewax.flow import build_flow

    env = dict(os.environ) if env is None else env
    path = env.get("STREAM_ML_CONFIG")
    if not path:
        raise ConfigError("set STREAM_ML_CONFIG to the engine config's path to build the flow")
    cfg = load_any_config(path)
    from stream_ml.runtime.build import build_sinks

    keyed = env.get("STREAM_ML_KEYED", "0") == "1"
    report = env.get("STREAM_ML_REPORT", "0" if cfg.sinks else "table")
    if report not in ("table", "json", "0"):
        raise ConfigError(f"STREAM_ML_REPORT must be table, json or 0, got {report!r}")
    sinks: list[Any] = [(lambda c=c: build_sinks([c])[0]) for c in cfg.sinks]
    directory = env.get("STREAM_ML_SUMMARY_DIR")
    if directory or report != "0":
        end = ReportSink(cfg, keyed=keyed, directory=directory, report=report)
        sinks.append(lambda: end)
    return build_flow(
        cfg,
        keyed=keyed,
        batch_size=int(env.get("STREAM_ML_BATCH_SIZE", "1000")),
        snapshots=env.get("STREAM_ML_SNAPSHOTS", "1") == "1",
        key_groups=int(env.get("STREAM_ML_KEY_GROUPS", "128")) or None,
        sinks=sinks,
    )


class ReportSink:
    """Keeps the engines' ``summary`` outputs and a tally of what each model served; at
    ``close`` (end of the dataflow) writes them to ``directory`` (one JSON file per process)
    and / or prints the run report (``report``: ``table`` or ``json``; ``0``: no print)."""

    def __init__(self, cfg: Any, *, keyed: bool, directory: str | None, report: str) -> None:
        from stream_ml.cli import RunTally

        self.cfg, self.keyed, self.directory, self.report = cfg, keyed, directory, report
        self.summaries: dict[str, Any] = {}
        self.tally = RunTally()
        self.closed = False
        self.started = time.perf_counter()

    def write(self, output: dict[str, Any]) -> None:
        if output.get("kind") == "summary":
            self.summaries[output["id"]] = output
        else:
            self.tally.write(output)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.directory:
            from stream_ml.cli import strict_json

            out = Path(self.directory) / f"{os.getpid()}.json"
            data = {"summaries": self.summaries, "tally": self.tally.as_dict()}
            out.write_text(json.dumps(strict_json(data), allow_nan=False), encoding="utf-8")
        if self.report != "0" and self.summaries:
            from stream_ml.cli import bytewax_report, dumps, print_report

            result = {"workers": None, "processes": None, "keys": self.summaries}
            snaps = None if self.cfg.snapshots is None else str(self.cfg.snapshots.path)
            rep = bytewax_report(result, self.tally, time.perf_counter() - self.started,
                                 keyed=self.keyed, snapshots_path=snaps)  # fmt: skip
            if self.report == "json":
                sys.stdout.write(dumps(rep) + "\n")
            else:
                print_report(rep)
            sys.stdout.flush()


def __getattr__(name: str) -> Any:
    if name == "flow":
        return flow_from_env()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ReportSink", "flow_from_env", "load_any_config", "run_bytewax"]
