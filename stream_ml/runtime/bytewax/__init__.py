"""Scale-out on Bytewax: the same engine definition as a keyed dataflow (see ``docs/scale.md``)."""

from __future__ import annotations

from stream_ml.runtime.bytewax.decode import DEAD_LETTER, GLOBAL_KEY, Decoder
from stream_ml.runtime.bytewax.flow import build_flow, engine_factory
from stream_ml.runtime.bytewax.logic import EngineLogic, logic_builder
from stream_ml.runtime.bytewax.sink import SharedSinkAdapter, SinkAdapter
from stream_ml.runtime.bytewax.source import SourceAdapter

__all__ = [
    "DEAD_LETTER",
    "GLOBAL_KEY",
    "Decoder",
    "EngineLogic",
    "SharedSinkAdapter",
    "SinkAdapter",
    "SourceAdapter",
    "build_flow",
    "engine_factory",
    "logic_builder",
]
