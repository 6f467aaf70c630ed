"""Run an engine definition on Bytewax: in this process, or as a cluster of processes.

``run_bytewax(config, workers=N)`` runs ``N`` worker threads in this process (``cli_main``).
``processes=M > 1`` starts ``M`` processes of ``python -m bytewax.run
stream_ml.runtime.bytewax_flow:flow -w N -i k -a host:port;...`` on loopback (Bytewax 0.21's
``bytewax.run`` has no ``-p``: processes are named with ``-i``/``-a``), each building the same
dataflow from the config through ``STREAM_ML_CONFIG``.

``recovery_dir``: Bytewax recovery partitions (SQLite files, ``python -m bytewax.recovery DIR K``);
created here with ``K = recovery_partitions`` (default: the total worker count) when the directory
has none. Run again with the same directory to resume; the worker count may differ.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from stream_ml.config import EngineConfig, load_config, parse_config
from stream_ml.errors import ConfigError, StreamMLError
from stream_ml.runtime.bytewax.flow import build_flow

FLOW_IMPORT = "stream_ml.runtime.bytewax_flow:flow"


class BytewaxRunError(StreamMLError):
    """A Bytewax process of a multi-process run failed."""

    code = "bytewax_run"


class _Summaries:
    """A sink that keeps the ``summary`` outputs (per-key engine summaries) in a dict."""

    def __init__(self, into: dict[str, Any]) -> None:
        self.into = into

    def write(self, output: dict[str, Any]) -> None:
        if output.get("kind") == "summary":
            self.into[output["id"]] = output

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def ensure_recovery_dir(path: str | Path, partitions: int) -> Path:
    """Create ``partitions`` recovery partitions in ``path`` unless it already holds some."""
    from bytewax.recovery import init_db_dir

    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if not any(p.glob("part-*.sqlite3")):
        init_db_dir(p, partitions)
    return p


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config_path(config: Any) -> tuple[str, str | None]:
    if isinstance(config, str | Path):
        return str(config), None
    if isinstance(config, EngineConfig):
        fd, tmp = tempfile.mkstemp(suffix=".json", prefix="stream-ml-config-")
        with os.fdopen(fd, "w") as f:
            json.dump(config.model_dump(mode="json"), f)
        return tmp, tmp
    raise ConfigError("a multi-process run needs a config (a TOML path or an EngineConfig)")


def run_bytewax(
    config: Any,
    workers: int = 1,
    processes: int = 1,
    recovery_dir: str | Path | None = None,
    *,
    keyed: bool = False,
    snapshot_interval: float = 10.0,
    backup_interval: float = 0.0,
    recovery_partitions: int | None = None,
    batch_size: int = 1000,
    key_groups: int | None = 128,
    extra_sinks: Sequence[Any] = (),
    **flow_options: Any,
) -> dict[str, Any]:
    """Run a config (or an engine factory, with ``flow_options``) on Bytewax to its end.

    Returns ``{"runtime": "bytewax", "workers", "processes", "keys": {key: summary}}`` (the
    per-key summaries, also in the sinks as ``summary`` outputs). ``key_groups``: see
    :func:`~stream_ml.runtime.bytewax.flow.build_flow` (``None`` or 0: one Bytewax state per key).

    ``extra_sinks``: sink objects that see every output too (a single-process run; the CLI's
    tally of what each model served). With several processes each process writes its summaries
    and tally to a file (``STREAM_ML_SUMMARY_DIR``), read back here: ``keys`` and ``tallies``
    (one per process) are then filled in too.
    """
    key_groups = key_groups or None
    if workers < 1 or processes < 1:
        raise ConfigError(f"workers and processes must be >= 1, got {workers} and {processes}")
    recovery = None
    if recovery_dir is not None:
        from bytewax.recovery import RecoveryConfig

        parts = recovery_partitions or workers * processes
        recovery = RecoveryConfig(
            ensure_recovery_dir(recovery_dir, parts), timedelta(seconds=backup_interval)
        )
    epoch = timedelta(seconds=snapshot_interval)
    result: dict[str, Any] = {"runtime": "bytewax", "workers": workers, "processes": processes}
    if processes == 1:
        from bytewax.run import cli_main

        keys: dict[str, Any] = {}
        sinks = flow_options.pop("sinks", None)
        if isinstance(config, str | Path):
            config = load_config(config)
        elif isinstance(config, dict):
            config = parse_config(config)
        if sinks is None:
            if not isinstance(config, EngineConfig):
                raise ConfigError("with an engine factory, give `sinks` (and `source`, `decoder`)")
            from stream_ml.runtime.build import build_sinks

            sinks = [(lambda c=c: build_sinks([c])[0]) for c in config.sinks]
        flow = build_flow(
            config,
            keyed=keyed,
            batch_size=batch_size,
            key_groups=key_groups,
            sinks=[
                *(sinks or []),
                lambda: _Summaries(keys),
                *((lambda s=s: s) for s in extra_sinks),
            ],
            snapshots=recovery is not None or flow_options.pop("snapshots", False),
            **flow_options,
        )
        cli_main(flow, workers_per_process=workers, epoch_interval=epoch, recovery_config=recovery)
        result["keys"] = keys
        return result
    if flow_options:
        raise ConfigError(f"a multi-process run takes its options from the config: {flow_options}")
    summary_dir = tempfile.mkdtemp(prefix="stream-ml-summaries-")
    try:
        _run_processes(config, workers, processes, recovery, recovery_dir, keyed, batch_size,
                       key_groups, snapshot_interval, backup_interval, summary_dir)  # fmt: skip
        result["keys"], result["tallies"] = read_summaries(summary_dir)
    finally:
        shutil.rmtree(summary_dir, ignore_errors=True)
    return result


def read_summaries(directory: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The per-key summaries and the tallies the processes of a run wrote to ``directory``
    (one JSON file per process, see ``stream_ml.runtime.bytewax_flow``)."""
    keys: dict[str, Any] = {}
    tallies: list[dict[str, Any]] = []
    for f in sorted(Path(directory).glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        keys.update(data.get("summaries") or {})
        if data.get("tally"):
            tallies.append(data["tally"])
    return keys, tallies


def _run_processes(config: Any, workers: int, processes: int, recovery: Any,
                   recovery_dir: Any, keyed: bool, batch_size: int, key_groups: int | None,
                   snapshot_interval: float, backup_interval: float,
                   summary_dir: str) -> None:  # fmt: skip
    path, tmp = _config_path(config)
    ports = _free_ports(processes)
    addresses = ";".join(f"127.0.0.1:{p}" for p in ports)
    env = dict(os.environ)
    env.update(
        STREAM_ML_CONFIG=str(Path(path).resolve()),
        STREAM_ML_KEYED="1" if keyed else "0",
        STREAM_ML_BATCH_SIZE=str(batch_size),
        STREAM_ML_KEY_GROUPS=str(key_groups or 0),
        STREAM_ML_SNAPSHOTS="1" if recovery is not None else "0",
        STREAM_ML_SUMMARY_DIR=summary_dir,
        STREAM_ML_REPORT="0",  # the caller reports, from the summaries written there
    )
    args = [sys.executable, "-m", "bytewax.run", FLOW_IMPORT, "-w", str(workers), "-a", addresses]
    args += ["-s", str(int(snapshot_interval))]
    if recovery is not None:
        args += ["-r", str(Path(recovery_dir).resolve()), "-b", str(int(backup_interval))]  # type: ignore[arg-type]
    try:
        # the workers' own chatter ("error connecting to worker 0 ...; retrying" while the
        # others start) goes to stderr: stdout is the caller's report
        procs = [
            subprocess.Popen([*args, "-i", str(i)], env=env, stdout=2)
            for i in range(processes)
        ]
        codes = [p.wait() for p in procs]
    finally:
        if tmp is not None:
            os.unlink(tmp)
    if any(codes):
        raise BytewaxRunError(f"bytewax processes exited with {codes} ({' '.join(args)})")
