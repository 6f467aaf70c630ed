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

Checks (fixed reference): each window value is coded against the reference once, when its
block is written (:class:`~stream_ml.drift.ranks.ReferenceIndex`), and a check reads the
statistics from the histogram of the window's codes, equal to scipy's; the lagged policy
merges its moving reference with the window at each check (:func:`merged_statistics`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift import thresholds
from stream_ml.drift.base import WindowedDetector
from stream_ml.drift.dependence import (
    ar1_coefficient,
    block_length,
    ess_factor,
    lag1,
    serially_correlated,
)  # fmt: skip
from stream_ml.drift.rank_segments import RankSegments, has_ties
from stream_ml.drift.ranks import ReferenceIndex, RunningCvM, merged_statistics
from stream_ml.drift.segments import Segments

__all__ = ["RankDetector"]

Array = NDArray[np.float64]


class RankDetector(WindowedDetector):
    """Base of the rank detectors (:class:`~stream_ml.drift.ks.KSDetector`, CvMDetector)."""

    _rank_based = True
    _stat = "ks"

    _index: ReferenceIndex | None = None
    _running: RunningCvM | None = None

    def _prepare(self, ref: Array) -> Array:
        return np.sort(ref, axis=1)

    def _statistics(self, prepared: Any, win: Array) -> Array:
        ks, cvm = merged_statistics(prepared, win, ks=self._stat == "ks", cvm=self._stat == "cvm")
        return ks if self._stat == "ks" else cvm

    # -- the fixed reference's index: window values coded once --------------------------
    def _reference_complete(self) -> None:
        super()._reference_complete()
        self._index_reference()

    def _index_reference(self) -> None:
        if self.reference != "fixed":
            return
        self._index = ReferenceIndex(self._prepared)
        self._codes = np.zeros((self.n_features, self._cap), dtype=np.intp)
        # a check at every value: CvM kept up to date value by value (exact integer sums)
        small = (self.reference_size + self.window_size) ** 4 < 2**50
        self._running = (RunningCvM(self._index, self.window_size)
                         if self._stat == "cvm" and self.check_every == 1 and small
                         and self._index.tie_free else None)  # fmt: skip

    def _restart(self) -> None:
        super()._restart()
        if self._running is not None:
            self._running.ok = False

    def _flush(self) -> None:
        run = self._running
        if run is None or not run.ok or len(self._pending) != 1 or self._count <= self._cap:
            if run is not None:
                run.ok = False
            super()._flush()
            return
        # one value replaces the oldest of a full window: update the running sums
        v = self._pending[0]
        self._pending = []
        pos = self._pos
        buf = self._buf
        old = buf[:, pos].tolist()
        try:
            buf[:, pos] = v  # converts (or refuses) as a block write would
        except (TypeError, ValueError) as e:
            self._count -= 1
            run.ok = False
            raise self._bad_value((v, e)) from e
        new = buf[:, pos].tolist()
        self._codes[:, pos] = run.replace(self._codes, pos, old, new)
        self._pos = pos + 1 if pos + 1 < self._cap else 0

    def _written(self, start: int, block: Array) -> None:
        index = self._index
        if index is not None:
            self._codes[:, start : start + block.shape[1]] = index.codes(block)

    def _window_statistics(self, prepared: Any, win: Array) -> Array:
        index = self._index
        if index is None or self.reference != "fixed":
            return self._statistics(prepared, win)
        codes = self._codes
        run = self._running
        if run is not None and (run.ok or run.rebuild(codes, win)):
            return run.statistics()
        out = index.statistics(index.histogram(codes), self.window_size, self._stat, win, codes)
        return self._statistics(prepared, win) if out is None else out

    def _loaded_unbatched(self) -> None:
        if self.reference == "fixed" and self._ref_fill == self.reference_size:
            self._index_reference()
            assert self._index is not None
            self._codes[:] = self._index.codes(self._buf)

    def _uniform_report(self) -> dict[str, Any] | None:
        return thresholds.uniform(self._spec())

    def _conservative(self, pool: Array) -> bool:
        """Whether the distribution-free threshold is conservative on this reference."""
        return self._stat == "ks" or not has_ties(pool)

    def _dependent(self, pool: Array) -> bool:
        """Whether to calibrate for serial dependence on this reference."""
        if self.dependence == "auto":
            return serially_correlated(pool)
        return self.dependence in ("ar1", "block")

    def _mean_block(self, pool: Array) -> float:
        if not self._dependent(pool) or self.dependence != "block":
            return 1.0
        r = float(np.max(lag1(pool)))
        return float(self.block_size or block_length(pool.shape[1], r))

    def _ar(self, pool: Array) -> Array | None:
        """The per-column AR(1) coefficients of the sieve ("ar1", and "auto" when dependent)."""
        if not self._dependent(pool) or self.dependence == "block":
            return None
        return ar1_coefficient(pool)

    def _calibrate(self, pool: Array) -> None:
        """``dependence = "ess"``: the distribution-free threshold scaled by the reference's
        effective-sample-size factor (:func:`~stream_ml.drift.dependence.ess_factor`, only when
        the lag-1 test fires), no job; a CvM reference with ties still gets its bootstrap."""
        if (self.dependence != "ess" or self._fixed_threshold is not None
                or self.calibration_method == "bootstrap" or not self._conservative(pool)):
            super()._calibrate(pool)
            return
        assert self._uniform is not None
        f = float(np.max(ess_factor(pool))) if serially_correlated(pool) else 1.0
        c = self._uniform["threshold"] * (f if self._stat == "cvm" else math.sqrt(f))
        self._job = None
        self.threshold = c
        dependence = {"lag1": float(np.max(lag1(pool))), "method": "effective sample size",
                      "factor": f}  # fmt: skip
        self.calibration = {**self._uniform, "threshold": c, "status": "calibrated",
                            "since": self.n_events, "dependence": dependence}  # fmt: skip

    def _method(self, pool: Array) -> str:
        if self.calibration_method != "auto":
            return self.calibration_method
        if self._dependent(pool):
            return "bootstrap"
        return "uniform" if self._conservative(pool) else "bootstrap"

    def _report(self, pool: Array) -> dict[str, Any]:
        r = float(np.max(lag1(pool)))
        block, ar = self._mean_block(pool), self._ar(pool)
        method = ("Gaussian-copula AR(1) sieve" if ar is not None else
                  "stationary block bootstrap" if block > 1 else "none")  # fmt: skip
        report: dict[str, Any] = {"lag1": r, "method": method}
        if block > 1:
            report["mean_block"] = block
        if ar is not None:
            report["ar1"] = ar.tolist()
        return {"dependence": report}

    def _interim(self, spec: cal.Spec, pool: Array) -> tuple[float, str]:
        if self._conservative(pool):
            assert self._uniform is not None
            c = self._uniform["threshold"]
            if not self._dependent(pool):
                return c, "uniform: distribution-free, conservative with ties (KS)"
            # the variance of a mean of an AR(1) with lag-1 autocorrelation r grows by
            # (1 + r) / (1 - r): the distribution-free threshold of that many fewer values
            r = min(0.95, max(0.0, float(np.max(lag1(pool)))))
            f = (1.0 + r) / (1.0 - r)
            c = c * (f if self._stat == "cvm" else math.sqrt(f))
            return c, f"uniform x effective-sample-size factor {f:.2f} (lag-1 r = {r:.2f})"
        return super()._interim(spec, pool)

    def _segments(self, spec: cal.Spec, pool: Array) -> Segments:
        return RankSegments(spec, self._stat, pool, mean_block=self._mean_block(pool),
                            ar=self._ar(pool))  # fmt: skip
