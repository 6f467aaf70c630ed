"""Build a Bytewax ``Dataflow`` that drives the engine: source -> validate -> engines -> sinks.

::

    input "source"      SourceAdapter: one partition per source, resume state = next offset
    flat_map_batch      Decoder: rows (RowDecoder) or messages (parse_message) -> (key, item)
    stateful_batch      EngineLogic per key group: one Driver per key -> Engine.predict / learn
    output "sink"       SinkAdapter (one writer) or SharedSinkAdapter (every worker writes)

**Keys and workers.** With ``keyed=False`` every item gets the key ``"__global__"``: one engine,
owned by one worker. With ``keyed=True`` each record key (the row's ``key`` column, the message's
``key``) gets its own engine from the factory, and items are routed by the key's *group*
(``key_groups`` of them, 128 by default; :mod:`~stream_ml.runtime.bytewax.logic`), so that a batch
reaches each Bytewax state with many rows instead of about one. Bytewax 0.21 routes a key
of a stateful step to worker ``h(key) % worker_count`` where ``h`` is Rust's ``DefaultHasher``
(SipHash-1-3 with fixed zero keys, ``BuildHasherDefault<DefaultHasher>`` in ``src/operators.rs``):
stable across processes and runs of the same Bytewax build, never Python's salted ``hash()``.
Recovery snapshots are keyed by (step, key) and re-routed by the same function on resume, so a
run may resume with another worker count. Items of one key keep their arrival order (one source
partition feeds them, and Timely channels are FIFO), which is what makes a multi-worker run equal
to one engine per key driven in arrival order.

>>> from connectors import IterableSource, MemorySink, RowDecoder
>>> from river import linear_model
>>> from stream_ml import Engine
>>> from bytewax.testing import run_main
>>> rows = [{"store": f"s{i % 2}", "x": str(i), "y": str(i % 3 == 0)} for i in range(6)]
>>> mem = MemorySink()
>>> flow = build_flow(lambda key: Engine({"lr": linear_model.LogisticRegression()}),
...     source=lambda: IterableSource(rows),
...     decoder=RowDecoder(target="y", target_type="bool", key="store"),
...     keyed=True, sinks=[lambda: mem])
>>> run_main(flow)
>>> sorted(o["id"] for o in mem.outputs if o["kind"] == "prediction")
['0', '1', '2', '3', '4', '5']
>>> sorted((o["id"], o["events"]) for o in mem.outputs if o["kind"] == "summary")
[('s0', 3), ('s1', 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from stream_ml.config import EngineConfig, load_config
from stream_ml.engine import Engine
from stream_ml.errors import ConfigError
from stream_ml.runtime.bytewax.decode import DEFAULT_GROUPS, Decoder
from stream_ml.runtime.bytewax.logic import EngineFactory, logic_builder
from stream_ml.runtime.bytewax.sink import SharedSinkAdapter, SinkAdapter, SinkFactory
from stream_ml.runtime.bytewax.source import SourceAdapter, SourceFactory

_UNSET: Any = object()


def engine_factory(engine: Any) -> tuple[EngineFactory, EngineConfig | None]:
    """An engine factory ``key -> Engine`` from a factory, an EngineConfig, a dict or a path."""
    if isinstance(engine, str | Path):
        cfg = load_config(engine)
    elif isinstance(engine, dict):
        from stream_ml.config import parse_config

        cfg = parse_config(engine)
    elif isinstance(engine, EngineConfig):
        cfg = engine
    elif callable(engine):
        return engine, None
    else:
        raise ConfigError(f"expected an engine factory, an EngineConfig or a path, got {engine!r}")
    return (lambda key: Engine.from_config(cfg)), cfg


def _store(cfg: EngineConfig | None) -> Any:
    if cfg is None:
        return None
    from stream_ml.runtime.build import snapshot_store

    return snapshot_store(cfg)


def _config_sink(build_sinks: Callable[[Any], list[Any]], cfg: Any) -> SinkFactory:
    def make() -> Any:
        return build_sinks([cfg])[0]

    return make


def build_flow(
    engine: Any,
    *,
    source: SourceFactory | Mapping[str, SourceFactory] | None = None,
    decoder: Any = _UNSET,
    keyed: bool = False,
    delay: int | None = None,
    sinks: Sequence[SinkFactory] | None = None,
    dead_letters: Sequence[SinkFactory] = (),
    shared_sinks: bool = False,
    batch_size: int = 1000,
    summaries: bool = True,
    snapshots: bool = True,
    flow_id: str = "stream_ml",
    key_groups: int | None = DEFAULT_GROUPS,
) -> Dataflow:
    """The dataflow for an engine definition.

    Parameters
    ----------
    engine
        A factory ``key -> Engine``, or an :class:`EngineConfig` / dict / TOML path (every key's
        engine is then ``Engine.from_config(config)``).
    source
        A function that builds the source, or a mapping partition name -> such function. Default:
        the config's ``[source]``.
    decoder
        A :class:`~connectors.rows.RowDecoder` for rows, ``None`` for message streams. Default:
        the one the config's source implies (``build_source``).
    keyed
        One engine per record key (``True``) or one global engine (``False``).
    delay
        Label delay in observations *of the same key* (rows). Default: ``[evaluation] delay``.
    sinks, dead_letters
        Functions that build the sinks (default: the config's ``[[sinks]]``) and the sinks that
        take ``error`` outputs (default: the main sinks).
    shared_sinks
        Every worker writes to its own sinks (concurrent writers) instead of one writer.
    batch_size
        Records per input batch.
    summaries
        Emit each key's engine summary (kind ``summary``, id = key) at the end of the input.
    snapshots
        Pickle each key's engine for Bytewax recovery (turn off only when running without it).
    key_groups
        With ``keyed``: how many groups the keys are routed in (the unit of Bytewax state and of
        spreading over workers; more groups spread load more evenly, fewer make batches per
        group bigger). ``None``: one Bytewax state per key. A run resumes from a recovery
        directory only with the ``key_groups`` it was written with.
    """
    factory, cfg = engine_factory(engine)
    locate = None
    if source is None or decoder is _UNSET or sinks is None:
        if cfg is None:
            raise ConfigError("with an engine factory, give `source`, `decoder` and `sinks`")
        from stream_ml.runtime.build import build_sinks, build_source

        if source is None or decoder is _UNSET:
            if cfg.source is None:
                raise ConfigError("the config has no [source]: nothing to run")
            built, built_decoder = build_source(cfg.source)
            if source is None:
                source = lambda: built  # noqa: E731  (built once, read by one partition)
                locate = getattr(built, "location", None)
            if decoder is _UNSET:
                decoder = built_decoder
        if sinks is None:
            sinks = [_config_sink(build_sinks, c) for c in cfg.sinks]
    if delay is None:
        delay = cfg.evaluation.delay if cfg is not None else 0
    sources = dict(source) if isinstance(source, Mapping) else {"0": source}

    flow = Dataflow(flow_id)
    items = op.input("source", flow, SourceAdapter(sources, batch_size=batch_size))
    dec = Decoder(decoder, keyed=keyed, groups=key_groups, locate=locate)
    keyed_items = op.flat_map_batch("validate", items, dec.route)
    builder = logic_builder(
        factory,
        delay=delay,
        keyed=keyed,
        summaries=summaries,
        snapshots=snapshots,
        decoder=dec if decoder is not None else None,
        store=_store(cfg),
        locate=locate,
    )
    outputs = op.stateful_batch("engine", keyed_items, builder)
    adapter = SharedSinkAdapter if shared_sinks else SinkAdapter
    op.output("sink", outputs, adapter(list(sinks), dead_letters=list(dead_letters)))
    return flow


__all__ = ["build_flow", "engine_factory"]
