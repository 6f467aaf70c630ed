"""Sources and sinks with offsets: files, River datasets, in-memory iterables, SQLite.

Every source follows the offset rule of :mod:`connectors.base`: it yields ``(offset, record)``
and ``seek(k)`` makes the next read start at record ``k``.
"""

from __future__ import annotations

from connectors.base import Sink, Source
from connectors.files import CsvSource, JsonlSource
from connectors.memory import IterableSource
from connectors.river_source import RiverSource
from connectors.rows import RowDecoder, infer_target_type
from connectors.sinks import JsonlSink, MemorySink, SqliteSink, StdoutSink

__all__ = [
    "CsvSource",
    "IterableSource",
    "JsonlSink",
    "JsonlSource",
    "MemorySink",
    "RiverSource",
    "RowDecoder",
    "Sink",
    "Source",
    "SqliteSink",
    "StdoutSink",
    "infer_target_type",
]
