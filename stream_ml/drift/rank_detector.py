"""The shared machinery of the rank detectors (KS, CvM): checks and calibration paths.

Calibration ("auto"): on a reference without ties, or for KS on any reference, the threshold is
the distribution-free one (:func:`stream_ml.drift.thresholds.uniform`: a pure function of the
configuration, ready when the detector is built). KS with ties is never larger than KS on the
tie-free values the ties round, so that threshold is conservative there. CvM with mid-ranks
grows with ties, so a CvM reference with ties is calibrated by a bootstrap of its rows
(:class:`~stream_ml.drift.rank_segments.RankSegments`, run as an amortized job), with no alarm
until it is done. ``calibration="bootstrap"`` asks for the bootstrap in every case (it keeps
the dependence between columns and the ties, and so gains power); its interim threshold is the
distribution-free one when that is conservative (KS, or CvM without ties).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift import thresholds
from stream_ml.drift.base import WindowedDetector
from stream_ml.drift.rank_segments import RankSegments, has_ties
from stream_ml.drift.ranks import merged_statistics
from stream_ml.drift.segments import Segments

__all__ = ["RankDetector"]

Array = NDArray[np.float64]


class RankDetector(WindowedDetector):
    """Base of the rank detectors (:class:`~stream_ml.drift.ks.KSDetector`, CvMDetector)."""

    _rank_based = True
    _stat = "ks"

    def _prepare(self, ref: Array) -> Array:
        return np.sort(ref, axis=1)

    def _statistics(self, prepared: Any, win: Array) -> Array:
        ks, cvm = merged_statistics(prepared, win, ks=self._stat == "ks", cvm=self._stat == "cvm")
        return ks if self._stat == "ks" else cvm

    def _uniform_report(self) -> dict[str, Any] | None:
        return thresholds.uniform(self._spec())

    def _conservative(self, pool: Array) -> bool:
        """Whether the distribution-free threshold is conservative on this reference."""
        return self._stat == "ks" or not has_ties(pool)

    def _method(self, pool: Array) -> str:
        if self.calibration_method != "auto":
            return self.calibration_method
        return "uniform" if self._conservative(pool) else "bootstrap"

    def _interim(self, spec: cal.Spec, pool: Array) -> tuple[float, str]:
        if self._conservative(pool):
            assert self._uniform is not None
            why = "uniform: distribution-free, conservative with ties (KS) and dependence"
            return self._uniform["threshold"], why
        return super()._interim(spec, pool)

    def _segments(self, spec: cal.Spec, pool: Array) -> Segments:
        return RankSegments(spec, self._stat, pool)
