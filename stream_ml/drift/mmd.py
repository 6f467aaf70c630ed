"""Windowed maximum mean discrepancy (MMD) detector for multivariate numeric data.

The kernel two-sample statistic of Gretton et al. (2012), *A kernel two-sample test*, JMLR 13,
with a Gaussian (RBF) kernel whose bandwidth is the median pairwise distance in the reference
(the median heuristic). The kernel is approximated by ``n_components`` random Fourier features
(Rahimi and Recht (2007), *Random features for large-scale kernel machines*, NIPS), so the
statistic ``||mean phi(reference) - mean phi(window)||^2`` costs O((n + m) d D) per check and
nothing per event beyond writing the row. The threshold is calibrated by bootstrapping rows of
the reference (MMD is not distribution-free), as an amortized job (:mod:`stream_ml.drift.jobs`).

Until the bootstrap is done the threshold is a bound that holds for any distribution: the
random-feature kernel is bounded (``k(x, x) = |phi(x)|^2 <= K = 2``), so by McDiarmid's
inequality (Gretton et al. (2012), Theorem 7, for unequal sample sizes) a stationary check
exceeds ``K (1/n + 1/m) (1 + sqrt(2 ln(1/a)))^2`` with probability at most ``a``; with
``a = k / ert`` (Bonferroni over checks: the alarm rate is at most ``a / k`` per event) the ERT
holds. It is far above the calibrated threshold: only gross shifts alarm before calibration.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift.base import WindowedDetector
from stream_ml.drift.segments import Segments

__all__ = ["MMDDetector", "MMDSegments", "mcdiarmid_threshold", "median_bandwidth"]

Array = NDArray[np.float64]
_KERNEL_BOUND = 2.0  # sup |phi(x)|^2 of the random Fourier features


def mcdiarmid_threshold(spec: cal.Spec, bound: float = _KERNEL_BOUND) -> float:
    """A threshold on the squared MMD whose ERT holds for any distribution (see above).

    >>> round(mcdiarmid_threshold(cal.Spec("mmd", 3, 500, 200, 20, ert=10_000.0)), 3)
    0.287
    """
    a = spec.check_every / spec.ert
    scale = bound * (1.0 / spec.reference_size + 1.0 / spec.window_size)
    return scale * (1.0 + math.sqrt(2.0 * math.log(1.0 / a))) ** 2


def median_bandwidth(x: Array, rng: np.random.Generator, max_pairs: int = 4000) -> float:
    """Median Euclidean distance between rows of ``x``, over ``max_pairs`` random pairs.

    A sample of pairs (not a full distance matrix) keeps it well under a millisecond.
    """
    n = len(x)
    i = rng.integers(0, n, size=max_pairs)
    j = (i + rng.integers(1, n, size=max_pairs)) % n  # never a point with itself
    diff = x[i] - x[j]
    med = float(np.sqrt(np.median(np.einsum("ij,ij->i", diff, diff))))
    return med if med > 0 else 1.0


class MMDDetector(WindowedDetector):
    """MMD drift detector (RBF kernel, median-heuristic bandwidth, random Fourier features).

    ``update`` takes a sequence of ``n_features`` numbers; other parameters as
    :class:`~stream_ml.drift.ks.KSDetector`, plus ``n_components`` (random features) and
    ``bandwidth`` (None: the median heuristic on the reference).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> det = MMDDetector(n_features=3, reference_size=200, window_size=100, check_every=10,
    ...                   ert=1500, n_components=32, n_simulations=200, seed=3)
    >>> x = np.vstack([rng.normal(0, 1, (800, 3)), rng.normal(1.0, 1, (300, 3))])
    >>> for row in x[:201]:
    ...     det.update(row)
    >>> det.calibration["status"], det.calibration["interim"].split()[0]
    ('interim', 'McDiarmid')
    >>> hits = []
    >>> for i, row in enumerate(x[201:], 201):
    ...     det.update(row)
    ...     if det.drift_detected:
    ...         hits.append(i)
    >>> det.calibration["status"], det.calibration["since"] < 800, hits[-1] >= 800
    ('calibrated', True, True)
    """

    name = "mmd"

    def __init__(self, *, n_components: int = 128, bandwidth: float | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        self.n_components = n_components
        self.bandwidth = bandwidth
        self._omega: Array | None = None
        self._phase: Array | None = None
        super().__init__(**kwargs)

    def _features(self, rows: Array) -> Array:
        """phi(rows): (len(rows), n_components) random Fourier features."""
        assert self._omega is not None and self._phase is not None
        return np.sqrt(2.0 / self.n_components) * np.cos(rows @ self._omega + self._phase)

    def _setup_kernel(self, pool: Array) -> None:
        rows = pool.T
        width = self.bandwidth or median_bandwidth(rows, self._rng)
        d, D = self.n_features, self.n_components
        self._omega = self._rng.normal(0.0, 1.0 / width, size=(d, D))
        self._phase = self._rng.uniform(0.0, 2.0 * np.pi, size=D)

    def _reference_complete(self) -> None:
        self._setup_kernel(self._ref)
        super()._reference_complete()

    def _calibrate(self, pool: Array) -> None:
        if self._omega is None:
            self._setup_kernel(pool)
        super()._calibrate(pool)

    def _prepare(self, ref: Array) -> Any:
        if self._omega is None:
            self._setup_kernel(ref)
        phi = self._features(ref.T)
        # the calibration of this reference reuses its features
        self._phi_pool: tuple[Array, Array] | None = (ref, phi)
        return phi.mean(axis=0)

    def _statistics(self, prepared: Any, win: Array) -> Array:
        diff = prepared - self._features(win.T).mean(axis=0)
        return np.array([float(diff @ diff)])

    def _interim(self, spec: cal.Spec, pool: Array) -> tuple[float, str]:
        return mcdiarmid_threshold(spec), "McDiarmid bound (Gretton et al. 2012), Bonferroni"

    def _segments(self, spec: cal.Spec, pool: Array) -> Segments:
        cached = getattr(self, "_phi_pool", None)
        phi = cached[1] if cached is not None and cached[0] is pool else self._features(pool.T)
        self._phi_pool = None
        return MMDSegments(spec, phi)


class MMDSegments(Segments):
    """Stationary runs of the MMD statistic: rows of the reference drawn with replacement."""

    def __init__(self, spec: cal.Spec, phi: Array) -> None:
        super().__init__(spec)
        self.phi = phi
        D = phi.shape[1]
        # cells of one check of one run; the gathers of 8-byte feature rows cost about twice
        # a rank column's cell (measured), so they count double: a step stays ~1 ms
        self.cost = 2 * (2 * spec.check_every * D + D)

    def reference(self, b: int, rng: np.random.Generator) -> Array:
        rows = rng.integers(0, self.phi.shape[0], size=(b, self.spec.reference_size))
        return self.phi[rows].mean(axis=1)

    def draw(self, ref: Any, b: int, t: int, rng: np.random.Generator) -> Array:
        rows = rng.integers(0, self.phi.shape[0], size=(b, t))
        return self.phi[rows].transpose(0, 2, 1)

    def stats(self, ref: Any, buf: Array, ends: NDArray[np.intp]) -> Array:
        n, m, lag = self.spec.reference_size, self.spec.window_size, self.spec.lag
        b, D, T = buf.shape
        cs = np.zeros((b, D, T + 1))
        np.cumsum(buf, axis=-1, out=cs[..., 1:])
        win = (cs[..., ends] - cs[..., ends - m]) / m
        if self.fixed:
            diff = ref[:, :, None] - win
        else:
            diff = (cs[..., ends - m - lag] - cs[..., ends - m - lag - n]) / n - win
        return np.einsum("bdc,bdc->bc", diff, diff)
