"""Windowed maximum mean discrepancy (MMD) detector for multivariate numeric data.

The kernel two-sample statistic of Gretton et al. (2012), *A kernel two-sample test*, JMLR 13,
with a Gaussian (RBF) kernel whose bandwidth is the median pairwise distance in the reference
(the median heuristic). The kernel is approximated by ``n_components`` random Fourier features
(Rahimi and Recht (2007), *Random features for large-scale kernel machines*, NIPS), so the
statistic ``||mean phi(reference) - mean phi(window)||^2`` costs O((n + m) d D) per check and
nothing per event beyond writing the row. The threshold is calibrated by bootstrapping rows of
the reference (MMD is not distribution-free).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift.base import WindowedDetector

__all__ = ["MMDDetector", "median_bandwidth"]

Array = NDArray[np.float64]
_CHUNK_CELLS = 8_000_000


def median_bandwidth(x: Array, rng: np.random.Generator, max_points: int = 500) -> float:
    """Median pairwise Euclidean distance of the rows of ``x`` (a subsample of ``max_points``)."""
    if len(x) > max_points:
        x = x[rng.choice(len(x), max_points, replace=False)]
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    iu = np.triu_indices(len(x), k=1)
    med = float(np.sqrt(np.median(d2[iu])))
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
    ...                   ert=1500, n_simulations=300, seed=3)
    >>> x = np.vstack([rng.normal(0, 1, (500, 3)), rng.normal(0.8, 1, (300, 3))])
    >>> hits = []
    >>> for i, row in enumerate(x):
    ...     det.update(row)
    ...     if det.drift_detected:
    ...         hits.append(i)
    >>> hits[0] >= 500, det.calibration["method"]
    (True, 'bootstrap')
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
        return self._features(ref.T).mean(axis=0)

    def _statistics(self, prepared: Any, win: Array) -> Array:
        diff = prepared - self._features(win.T).mean(axis=0)
        return np.array([float(diff @ diff)])

    def _simulator(self, pool: Array) -> cal.Simulator:
        phi = self._features(pool.T)

        def run(spec: cal.Spec, n_runs: int, n_checks: int, rng: np.random.Generator) -> Array:
            return _simulate_means(phi, spec, n_runs, n_checks, rng)

        return run


def _simulate_means(phi: Array, spec: cal.Spec, n_runs: int, n_checks: int,
                    rng: np.random.Generator) -> Array:  # fmt: skip
    n, m, k, lag = spec.reference_size, spec.window_size, spec.check_every, spec.lag
    fixed = spec.reference == "fixed"
    length = (n if fixed else 0) + spec.warmup + (n_checks - 1) * k
    D = phi.shape[1]
    out = np.empty((n_runs, n_checks))
    chunk = max(1, _CHUNK_CELLS // (length * D))
    ends = spec.warmup + np.arange(n_checks) * k + (n if fixed else 0)
    g = math.gcd(n, m, k, lag)  # every window bound is a multiple of g: sum blocks of g rows
    n_blocks = -(-length // g)
    for lo in range(0, n_runs, chunk):
        b = min(chunk, n_runs - lo)
        rows = rng.integers(0, phi.shape[0], size=(b, n_blocks * g))
        blocks = phi[rows].reshape(b, n_blocks, g, D).sum(axis=2)
        cs = np.zeros((b, n_blocks + 1, D))
        np.cumsum(blocks, axis=1, out=cs[:, 1:])
        win = (cs[:, ends // g] - cs[:, (ends - m) // g]) / m
        if fixed:
            ref = (cs[:, n // g] / n)[:, None, :]
        else:
            ref = (cs[:, (ends - m - lag) // g] - cs[:, (ends - m - lag - n) // g]) / n
        diff = ref - win
        out[lo : lo + b] = np.einsum("bjd,bjd->bj", diff, diff)
    return out
