"""Sketches: bounded-memory summaries used when a window never removes values."""

from __future__ import annotations

from stream_ml.features.sketches.hyperloglog import HyperLogLog

__all__ = ["HyperLogLog"]
