"""Backtests: how stored snapshots' models do on a window of data, without learning.

"Would version 12 still do well on last week?" Each version's models are loaded from the
snapshot store (checksum and signature verified), put under a ``frozen`` policy that learns
nothing (:mod:`stream_ml.continual.policies`), and replayed through an engine on the same window
of a source: the engine's own label join and prequential metrics score them. Each version is
replayed on its own, from the same start, so versions are compared on the same events.

The snapshot's feature stage (if any) goes on from its stored state over the window, as it would
live: its aggregates are data, not learning. The metric names and rolling window are the
snapshot engine's.

The window: ``on`` is a TOML config (its ``[source]`` and label ``delay``) or a data file (CSV,
or JSON Lines); a data file is read with the snapshot's own source settings (target, types,
id, key and ts columns) when its config had a source of that kind, else with ``target``.
``start`` is the source offset of the first record (the row number for a file), ``limit`` the
number of records read.

Examples
--------
>>> import tempfile, pathlib
>>> from stream_ml.config import parse_config
>>> from stream_ml.runtime.build import run_config
>>> db = str(pathlib.Path(tempfile.mkdtemp()) / "s.db")
>>> cfg = parse_config({"source": {"kind": "csv", "path": "data/weather.csv.gz",
...     "target": "target"}, "models": {"lr": {"model": "linear_model.LogisticRegression()"}},
...     "snapshots": {"path": db, "every_events": 500, "trust_unsigned": True}})
>>> _ = run_config(cfg, limit=1000)
>>> rows = backtest(db, [1, 2], "data/weather.csv.gz", start=1000, limit=300,
...                 trust_unsigned=True)
>>> [(r["version"], r["model"], r["scored"], r["learned"]) for r in rows]
[(1, 'lr', 300, 0), (2, 'lr', 300, 0)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stream_ml.config import CsvSourceConfig, JsonlSourceConfig, load_config
from stream_ml.continual.policies import FrozenPolicy, policy_model
from stream_ml.engine import Engine
from stream_ml.errors import ConfigError
from stream_ml.runtime.replay import Replay

__all__ = ["backtest", "open_store", "window_source"]


def open_store(
    db: str | Path, *, key: str | None = None, key_env: str = "STREAM_ML_SNAPSHOT_KEY",
    trust_unsigned: bool = False,
) -> Any:  # fmt: skip
    """The snapshot store at ``db`` (it must exist), with the key from ``key`` or ``$key_env``."""
    from stream_ml.snapshots import SnapshotStore

    if not os.path.exists(db):
        raise ConfigError(f"no snapshot store at {str(db)!r}")
    key = key or os.environ.get(key_env) or None
    if key is None and not trust_unsigned:
        raise ConfigError(f"no signing key: set ${key_env} or pass trust_unsigned")
    return SnapshotStore(db, key=key, trust_unsigned=trust_unsigned)


def window_source(
    on: str, engine: Engine, *, target: str | None = None, delay: int | None = None
) -> tuple[Any, int]:
    """The source config and the label delay a backtest reads (module docstring)."""
    stored = getattr(engine, "config", None)
    if on.endswith(".toml"):
        cfg = load_config(on)
        if cfg.source is None:
            raise ConfigError(f"{on!r} has no [source] to backtest on")
        return cfg.source, cfg.evaluation.delay if delay is None else delay
    if not os.path.exists(on):
        raise ConfigError(f"no data file {on!r} to backtest on")
    kind = "jsonl" if on.endswith((".jsonl", ".jsonl.gz")) else "csv"
    src = getattr(stored, "source", None)
    d = delay if delay is not None else (stored.evaluation.delay if stored is not None else 0)
    if src is not None and src.kind == kind:
        update: dict[str, Any] = {"path": on, "limit": None}
        if target is not None:
            update["target"] = target
        return src.model_copy(update=update), d
    cls = JsonlSourceConfig if kind == "jsonl" else CsvSourceConfig
    return cls.model_validate({"kind": kind, "path": on, "target": target or "target"}), d


def backtest(
    db: str | Path | Any,
    versions: Sequence[int],
    on: str,
    *,
    start: int = 0,
    limit: int | None = None,
    target: str | None = None,
    delay: int | None = None,
    key: str | None = None,
    key_env: str = "STREAM_ML_SNAPSHOT_KEY",
    trust_unsigned: bool = False,
) -> list[dict[str, Any]]:
    """Evaluate each version's models on the window; one row per (version, model).

    A row: ``version``, the snapshot's ``snapshot_events`` and ``snapshot_event_time``, the
    ``model``, its ``metrics`` (cumulative over the window) and ``rolling`` (the last window),
    ``scored`` and ``learned`` (always 0: nothing learns), and the window's ``start`` and
    ``records``.
    """
    from stream_ml.runtime.build import build_source
    from stream_ml.stages.snapshotting import engine_state

    if not versions:
        raise ConfigError("a backtest needs at least one version")
    own = not hasattr(db, "load")
    store: Any = (
        open_store(db, key=key, key_env=key_env, trust_unsigned=trust_unsigned) if own else db
    )
    rows: list[dict[str, Any]] = []
    try:
        for version in versions:
            state, info = store.load(int(version))
            old: Engine = engine_state(state, int(version), store.path)["engine"]
            src_cfg, d = window_source(on, old, target=target, delay=delay)
            engine = _frozen_engine(old, int(version))
            source, decoder = build_source(src_cfg)
            if start:
                source.seek(start)
            replay = Replay(engine, source, decoder, delay=d)
            summary = replay.run(limit=limit)
            for slot in engine.slots:
                m = summary["models"][slot.name]
                rows.append({
                    "version": info.version, "snapshot_events": info.events,
                    "snapshot_event_time": info.event_time, "model": slot.name,
                    "metrics": m["metrics"], "rolling": m["rolling"], "scored": m["scored"],
                    "learned": slot.model.updates, "unanswered": slot.model.unanswered,
                    "start": start, "records": replay.records,
                })  # fmt: skip
    finally:
        if own:
            store.close()
    return rows


def _frozen_engine(old: Engine, version: int) -> Engine:
    first = old.slots[0].prequential
    frozen = FrozenPolicy(after=0)
    return Engine(
        {s.name: policy_model(s.model, frozen) for s in old.slots},
        metrics=first.names,
        window=first.window,
        max_pending=old.pending.max_pending,
        label_ttl=old.pending.ttl,
        seed=old.seed,
        name=f"{old.name}-backtest-v{version}",
        features=old.features,
    )
