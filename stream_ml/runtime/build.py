"""Build sources, decoders, sinks and a whole run from an :class:`EngineConfig`."""

from __future__ import annotations

from typing import Any

from connectors import (
    CsvSource,
    JsonlSink,
    JsonlSource,
    RiverSource,
    RowDecoder,
    SqliteSink,
    StdoutSink,
    infer_target_type,
)
from stream_ml.config import (
    CsvSourceConfig,
    EngineConfig,
    JsonlSinkConfig,
    JsonlSourceConfig,
    RiverSourceConfig,
    SqliteSinkConfig,
)
from stream_ml.engine import Engine
from stream_ml.errors import ConfigError
from stream_ml.runtime.replay import Progress, Replay
from stream_ml.snapshots import SnapshotPolicy
from stream_ml.stages.snapshotting import SnapshotStage


def build_source(cfg: Any) -> tuple[Any, RowDecoder | None]:
    """The source a config names, and the row decoder for it (None for message streams)."""
    if isinstance(cfg, CsvSourceConfig):
        src: Any = CsvSource(cfg.path, delimiter=cfg.delimiter)
    elif isinstance(cfg, JsonlSourceConfig):
        src = JsonlSource(cfg.path)
        if cfg.target is None:
            return src, None
    elif isinstance(cfg, RiverSourceConfig):
        src = RiverSource(cfg.dataset, params=cfg.params, target=cfg.target, limit=cfg.limit)
    else:
        raise ConfigError(f"unknown source: {cfg!r}")
    if (
        isinstance(cfg, CsvSourceConfig)
        and cfg.target is not None
        and cfg.target not in src.columns
    ):
        raise ConfigError(
            f"source {cfg.path!r} has no target column {cfg.target!r}; columns: {src.columns}"
        )
    target_type = cfg.target_type
    if cfg.target is not None and target_type == "auto":
        values = src.column(cfg.target) if hasattr(src, "column") else _river_targets(src)
        target_type = infer_target_type(values)  # type: ignore[assignment]
    decoder = RowDecoder(
        target=cfg.target,
        target_type=target_type,
        id=getattr(cfg, "id", None),
        key=getattr(cfg, "key", None),
        ts=getattr(cfg, "ts", None),
        categorical=getattr(cfg, "categorical", ()),
        keep_key=getattr(cfg, "keep_key", False),  # a feature groups by the record key
    )
    return src, decoder


def _river_targets(src: RiverSource) -> Any:
    for _, row in RiverSource(
        src.dataset_name, params=src.params, target=src.target, limit=src.limit
    ).read():
        yield row[src.target]


def build_sinks(configs: Any) -> list[Any]:
    sinks: list[Any] = []
    for c in configs:
        if isinstance(c, JsonlSinkConfig):
            sinks.append(JsonlSink(c.path))
        elif isinstance(c, SqliteSinkConfig):
            sinks.append(SqliteSink(c.path, table=c.table))
        else:
            sinks.append(StdoutSink())
    return sinks


def build_replay(
    config: EngineConfig,
    *,
    strict: bool = False,
    progress: Progress | None = None,
    timeline_every: int = 0,
    extra_sinks: list[Any] | None = None,
) -> Replay:
    """An engine, its source and its sinks, ready to ``run``."""
    if config.source is None:
        raise ConfigError("the config has no [source]: nothing to run")
    engine = Engine.from_config(config)
    source, decoder = build_source(config.source)
    sinks = build_sinks(config.sinks) + list(extra_sinks or [])
    stage = open_snapshots(config, engine)
    replay = Replay(
        engine,
        source,
        decoder,
        delay=config.evaluation.delay,
        sinks=sinks,
        strict=strict,
        progress=progress,
        timeline_every=timeline_every,
        snapshots=stage,
    )
    if stage is not None and config.snapshots is not None and config.snapshots.resume:
        replay.resume()
    return replay


def open_snapshots(config: EngineConfig, engine: Engine) -> SnapshotStage | None:
    """The snapshot stage a config asks for, attached to ``engine`` with its schedule."""
    stage = open_stage(config)
    if stage is not None:
        attach_snapshots(config, engine, stage)
    return stage


def attach_snapshots(config: EngineConfig, engine: Engine, stage: SnapshotStage) -> None:
    """Attach ``stage`` to ``engine`` with the config's schedule (kept if it has one)."""
    sc = config.snapshots
    assert sc is not None
    engine.snapshots = stage
    if engine.snapshot_policy is None:
        engine.snapshot_policy = SnapshotPolicy(
            sc.every_events, sc.every_seconds, on_promotion=sc.on_promotion
        )


def snapshot_store(config: EngineConfig) -> Any:
    """For runtimes that build engines themselves (the Bytewax step): ``store(None)`` opens the
    config's stage, ``store(engine, stage)`` attaches it; None without ``[snapshots]``."""
    if config.snapshots is None:
        return None

    def store(engine: Engine | None, stage: SnapshotStage | None = None) -> Any:
        if engine is None:
            return open_stage(config)
        assert stage is not None
        attach_snapshots(config, engine, stage)
        return stage

    return store


def open_stage(config: EngineConfig) -> SnapshotStage | None:
    """The snapshot stage (store) a config asks for, not attached to an engine."""
    sc = config.snapshots
    if sc is None:
        return None
    return SnapshotStage.open(
        sc.path,
        key_env=sc.key_env,
        trust_unsigned=sc.trust_unsigned,
        keep_last=sc.keep_last,
        synchronous=sc.synchronous,
        config_hash=config.digest(),
    )


def run_config(
    config: EngineConfig,
    *,
    strict: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run a config to the end of its source; returns the summary."""
    replay = build_replay(config, strict=strict, progress=progress)
    try:
        return replay.run(
            limit=limit if limit is not None else getattr(config.source, "limit", None)
        )
    finally:
        close_replay(replay)


def close_replay(replay: Replay) -> None:
    """Close a replay's sinks and snapshot store."""
    for sink in replay.sinks:
        sink.close()
    if replay.snapshots is not None:
        replay.snapshots.close()
