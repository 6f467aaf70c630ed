"""Drift detection: windowed two-sample detectors calibrated to an expected run time.

Detectors share River's verbs (``update(value)``, ``drift_detected``, ``reset()``) plus
``state`` (the last :class:`DriftCheck`) and ``reset_reference()``. Configurations build them
(:func:`parse_detector_config`); :class:`FeatureDriftMonitor` watches event dicts.
"""

from __future__ import annotations

from stream_ml.drift.adapters import RiverDetector, error_of
from stream_ml.drift.base import DriftCheck, WindowedDetector
from stream_ml.drift.categorical import ChiSquaredDetector, PSIDetector
from stream_ml.drift.config import (
    ChiSquaredConfig,
    CUSUMConfig,
    CvMConfig,
    DetectorConfig,
    KSConfig,
    MMDConfig,
    PSIConfig,
    RiverConfig,
    parse_detector_config,
)
from stream_ml.drift.cusum import CUSUMDetector
from stream_ml.drift.cvm import CvMDetector
from stream_ml.drift.episodes import DriftEpisodeEnd
from stream_ml.drift.ks import KSDetector
from stream_ml.drift.mmd import MMDDetector
from stream_ml.drift.monitor import DriftAlert, FeatureDriftMonitor

__all__ = [
    "CUSUMConfig", "CUSUMDetector", "ChiSquaredConfig", "ChiSquaredDetector", "CvMConfig",
    "CvMDetector", "DetectorConfig",
    "DriftAlert", "DriftCheck", "DriftEpisodeEnd", "FeatureDriftMonitor", "KSConfig",
    "KSDetector", "MMDConfig", "MMDDetector", "PSIConfig", "PSIDetector", "RiverConfig",
    "RiverDetector", "WindowedDetector", "error_of", "parse_detector_config",
]  # fmt: skip
