"""Windowed detectors for one categorical value: chi-squared and population stability index.

Values are any hashable category; each new one gets the next integer code (up to
``max_categories``; later newcomers share an "other" code), so the ring buffer stays numeric and
a check is two ``bincount`` calls. A category never seen in the reference is itself drift, and
both statistics see it.

* Chi-squared: Pearson's statistic of the 2 x K contingency table (reference counts, window
  counts), categories absent from both dropped; equal to
  ``scipy.stats.chi2_contingency(table, correction=False)`` (Pearson, K. (1900). Phil. Mag. 50).
* PSI: ``sum (w - r) ln(w / r)`` over category proportions, each floored at ``eps`` (Yurdakul, B.
  (2018). Statistical properties of population stability index. PhD thesis, W. Michigan Univ.).

Thresholds are calibrated by bootstrapping the reference codes (multinomial resampling), as an
amortized job (:mod:`stream_ml.drift.jobs`); until it is done there is no alarm (no interim
threshold: the chi-squared law of the statistic is asymptotic only, not a bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from stream_ml.drift import calibration as cal
from stream_ml.drift.base import WindowedDetector
from stream_ml.drift.segments import Segments, offset_bincount, windows
from stream_ml.errors import ConfigError

__all__ = [
    "CategoricalDetector", "CategoricalSegments", "ChiSquaredDetector", "PSIDetector",
    "chi2_rows", "psi_rows",
]  # fmt: skip

Array = NDArray[np.float64]


def chi2_rows(ref: NDArray[np.int64], win: NDArray[np.int64]) -> Array:
    """Row-wise Pearson chi-squared of the tables [ref_i; win_i] (counts (r, K))."""
    n = ref.sum(axis=1, keepdims=True).astype(np.float64)
    m = win.sum(axis=1, keepdims=True).astype(np.float64)
    col = (ref + win).astype(np.float64)
    total = n + m
    e_ref = n * col / total
    e_win = m * col / total
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(col > 0, (ref - e_ref) ** 2 / e_ref + (win - e_win) ** 2 / e_win, 0.0)
    return t.sum(axis=1)


def psi_rows(ref: NDArray[np.int64], win: NDArray[np.int64], eps: float = 1e-4) -> Array:
    """Row-wise population stability index of window proportions against reference ones."""
    r = np.maximum(ref / ref.sum(axis=1, keepdims=True), eps)
    w = np.maximum(win / win.sum(axis=1, keepdims=True), eps)
    return ((w - r) * np.log(w / r)).sum(axis=1)


class CategoricalDetector(WindowedDetector):
    """Base of the categorical detectors: category codes, counts, bootstrap simulation."""

    def __init__(self, *, max_categories: int = 64, **kwargs: Any) -> None:
        if kwargs.get("n_features", 1) != 1:
            raise ConfigError("a categorical detector watches one field (n_features=1)")
        if kwargs.get("calibration", "auto") == "uniform":
            raise ConfigError("calibration='uniform' needs a rank statistic")
        self.max_categories = max_categories
        self.codes: dict[Any, int] = {}
        super().__init__(**kwargs)

    def _encode(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            if len(self.codes) >= self.max_categories:
                return self.max_categories
            code = self.codes[value] = len(self.codes)
        return code

    def _as_rows(self, values: Any) -> Array:
        # a reference given to reset_reference holds categories, not codes: encode them the way
        # update() does (storing the raw values would compare mis-coded reference counts with
        # encoded windows, and strings would not even convert)
        vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
        if vals and isinstance(vals[0], list | tuple) and len(vals[0]) == 1:
            vals = [v[0] for v in vals]
        return np.asarray([[self._encode(v) for v in vals]], dtype=np.float64)

    def _counts(self, codes: Array) -> NDArray[np.int64]:
        return np.bincount(codes.astype(np.intp), minlength=self.max_categories + 1)[None, :]

    def _prepare(self, ref: Array) -> Any:
        return self._counts(ref[0])

    def _statistics(self, prepared: Any, win: Array) -> Array:
        return self._rows(prepared, self._counts(win[0]))

    def _rows(self, ref: NDArray[np.int64], win: NDArray[np.int64]) -> Array:
        raise NotImplementedError

    def _segments(self, spec: cal.Spec, pool: Array) -> Segments:
        # categories absent from the pool never occur in the simulation and add 0 to both
        # statistics: count over the pool's categories only
        _, codes = np.unique(pool[0].astype(np.intp), return_inverse=True)
        return CategoricalSegments(spec, codes.astype(np.intp), self.name,
                                   getattr(self, "eps", 0.0))  # fmt: skip


class CategoricalSegments(Segments):
    """Stationary runs of chi2 or PSI (``stat``): codes of the reference drawn with replacement."""

    def __init__(self, spec: cal.Spec, codes: NDArray[np.intp], stat: str, eps: float) -> None:
        super().__init__(spec)
        self.codes = codes
        self.size = int(codes.max()) + 1
        self.stat = stat
        self.eps = eps
        n, m, k = spec.reference_size, spec.window_size, spec.check_every
        self.cost = m + k + 2 * self.size + (0 if self.fixed else n)

    def _draw(self, b: int, t: int, rng: np.random.Generator) -> NDArray[np.intp]:
        return self.codes[rng.integers(0, len(self.codes), size=(b, t))]

    def reference(self, b: int, rng: np.random.Generator) -> NDArray[np.int64]:
        return offset_bincount(self._draw(b, self.spec.reference_size, rng), self.size)

    def draw(self, ref: Any, b: int, t: int, rng: np.random.Generator) -> NDArray[np.intp]:
        return self._draw(b, t, rng)

    def stats(self, ref: Any, buf: NDArray[Any], ends: NDArray[np.intp]) -> Array:
        n, m, lag = self.spec.reference_size, self.spec.window_size, self.spec.lag
        b, c = buf.shape[0], len(ends)
        win = offset_bincount(windows(buf, ends, m).reshape(b * c, m), self.size)
        if self.fixed:
            r = np.repeat(ref, c, axis=0)
        else:
            r = offset_bincount(windows(buf, ends - m - lag, n).reshape(b * c, n), self.size)
        out = chi2_rows(r, win) if self.stat == "chi2" else psi_rows(r, win, self.eps)
        return out.reshape(b, c)


class ChiSquaredDetector(CategoricalDetector):
    """Chi-squared drift detector for one categorical value.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> det = ChiSquaredDetector(reference_size=300, window_size=150, check_every=15, ert=2000,
    ...                          max_categories=8, seed=4)
    >>> before = rng.choice(["a", "b", "c"], 700, p=[0.5, 0.3, 0.2]).tolist()
    >>> after = rng.choice(["a", "b", "c"], 500, p=[0.3, 0.3, 0.4]).tolist()
    >>> first = next(i for i, v in enumerate(before + after) if det.update(v) or det.drift_detected)
    >>> first >= 700, det.state.p_value < 0.05
    (True, True)
    """

    name = "chi2"

    def _rows(self, ref: NDArray[np.int64], win: NDArray[np.int64]) -> Array:
        return chi2_rows(ref, win)

    def _p_value(self, prepared: Any, win: Array, i: int) -> float | None:
        table = np.vstack([prepared[0], self._counts(win[0])[0]])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 1.0
        return float(sps.chi2_contingency(table, correction=False).pvalue)


class PSIDetector(CategoricalDetector):
    """Population stability index drift detector for one categorical value.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> det = PSIDetector(reference_size=300, window_size=150, check_every=15, ert=2000, seed=5)
    >>> vals = rng.choice(4, 700).tolist() + rng.choice(4, 500, p=[0.1, 0.2, 0.3, 0.4]).tolist()
    >>> first = next(i for i, v in enumerate(vals) if det.update(v) or det.drift_detected)
    >>> first >= 700, det.state.detector
    (True, 'psi')
    """

    name = "psi"

    def __init__(self, *, eps: float = 1e-4, **kwargs: Any) -> None:
        self.eps = eps
        super().__init__(**kwargs)

    def _rows(self, ref: NDArray[np.int64], win: NDArray[np.int64]) -> Array:
        return psi_rows(ref, win, self.eps)
