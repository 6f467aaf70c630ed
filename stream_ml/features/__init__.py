"""Streaming features: per-key windowed aggregates in event time, online and offline.

``from stream_ml import features as F``, then ``F.FeatureSet([F.Mean("amount", by="user",
window="1h"), ...], allowed_lateness="5m")``. See :mod:`stream_ml.features.featureset` for the
point-in-time rule, :mod:`stream_ml.features.windows` for window strings and
:func:`compute_offline` for the batch replay that gives the same values.
"""

from __future__ import annotations

from stream_ml.features.config import FeaturesConfig
from stream_ml.features.errors import (
    FeatureEventError,
    FeatureKeyMissing,
    FeatureTimestampError,
    FeatureValueNotNumeric,
)
from stream_ml.features.featureset import FeatureRow, FeatureSet
from stream_ml.features.offline import compute_offline
from stream_ml.features.specs import (
    EWMA,
    Count,
    DistinctCount,
    FeatureSpec,
    Last,
    Max,
    Mean,
    Min,
    Quantile,
    Std,
    Sum,
    TargetMean,
    TimeSince,
    Var,
)
from stream_ml.features.windows import parse_duration, parse_window

__all__ = [
    "EWMA",
    "Count",
    "DistinctCount",
    "FeatureEventError",
    "FeatureKeyMissing",
    "FeatureRow",
    "FeatureSet",
    "FeatureSpec",
    "FeatureTimestampError",
    "FeatureValueNotNumeric",
    "FeaturesConfig",
    "Last",
    "Max",
    "Mean",
    "Min",
    "Quantile",
    "Std",
    "Sum",
    "TargetMean",
    "TimeSince",
    "Var",
    "compute_offline",
    "parse_duration",
    "parse_window",
]
