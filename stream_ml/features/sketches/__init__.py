"""Sketches: bounded-memory summaries used when a window never removes values (Apache
DataSketches, see :mod:`stream_ml.features.sketches.datasketch`)."""

from __future__ import annotations

from stream_ml.features.sketches.datasketch import HllCount, TDigestQuantiles, canonical

__all__ = ["HllCount", "TDigestQuantiles", "canonical"]
