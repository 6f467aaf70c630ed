"""Serial dependence: a lag-1 autocorrelation test and the stationary block bootstrap.

Calibration by simulation (:mod:`stream_ml.drift.calibration`) draws stationary streams from
the reference. Drawing its values one at a time (the i.i.d. bootstrap) assumes independent
events; on an autocorrelated stream a window's statistic varies more than on i.i.d. data, and a
threshold calibrated that way alarms several times too often (AR(1) with phi = 0.5: about 4x).
The **stationary bootstrap** of Politis and Romano (1994), *The stationary bootstrap*, JASA
89(428), resamples *blocks* of consecutive reference values instead: each drawn index is the
next one after the previous draw (circularly) with probability ``1 - 1/L``, else a fresh
uniform index; block lengths are geometric with mean ``L``, so the resampled stream is
stationary and keeps the dependence up to lags of about ``L`` (Künsch (1989), *The jackknife
and the bootstrap for general stationary observations*, Ann. Statist. 17(3), for the moving
block bootstrap it refines).

The mean block length (:func:`block_length`) follows the lag-1 autocorrelation ``r`` of the
reference: long enough that the blocks keep 90% of an AR(1)'s long-run variance
(``20 r / (1 - r^2)``), and at least ``n^(1/3)``, the rate of Politis and White (2004),
*Automatic block-length selection for the dependent bootstrap*, Econometric Reviews 23(1); at
most ``n / 4``.

:func:`serially_correlated` is the test behind ``dependence = "auto"``: the reference is
treated as dependent when some column's lag-1 autocorrelation exceeds ``z / sqrt(n)`` with
``z`` the one-sided normal quantile of ``0.001 / d`` (Šidák over ``d`` columns; under
independence ``sqrt(n) r`` is asymptotically standard normal, Bartlett (1946)); i.i.d.
references trigger it about once in a thousand.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> e = rng.normal(size=2000)
>>> ar = np.empty(2000); ar[0] = e[0]
>>> for t in range(1, 2000):
...     ar[t] = 0.5 * ar[t - 1] + e[t]
>>> round(float(lag1(ar[None, :500])[0]), 2), serially_correlated(ar[None, :500])
(0.48, True)
>>> serially_correlated(e[None, :500]), block_length(500, 0.5)
(False, 14)
>>> stationary_indices(rng, 10, (2, 6), mean_block=4.0).shape
(2, 6)
>>> u, last = ar1_uniforms(rng, np.array([0.5, 0.0]), (2, 1000))
>>> round(float(lag1(u[:1])[0]), 1), bool(0.0 < u.min() and u.max() < 1.0)
(0.5, True)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Dependence", "ar1_coefficient", "ar1_uniforms", "block_length", "ess_factor", "lag1",
    "serially_correlated", "stationary_indices",
]  # fmt: skip

Dependence = Literal["auto", "none", "ar1", "block", "ess"]
#: the false-trigger rate of the automatic test (per reference, all columns together)
AUTO_LEVEL = 0.001


def lag1(pool: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lag-1 autocorrelation of each row of ``pool`` (d, n); 0 for a constant row."""
    x = pool - pool.mean(axis=1, keepdims=True)
    den = np.einsum("ij,ij->i", x, x)
    num = np.einsum("ij,ij->i", x[:, 1:], x[:, :-1])
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def serially_correlated(pool: NDArray[np.float64], level: float = AUTO_LEVEL) -> bool:
    """Whether some row's lag-1 autocorrelation is significantly positive (see above)."""
    d, n = pool.shape
    if n < 8:
        return False
    z = NormalDist().inv_cdf(1.0 - (1.0 - (1.0 - level) ** (1.0 / d)))
    return bool(np.max(lag1(pool)) > z / math.sqrt(n))


def block_length(n: int, r: float) -> int:
    """The mean block length for a reference of ``n`` values with lag-1 autocorrelation ``r``.

    For an AR(1) with coefficient ``r`` the blocks of mean length ``L`` miss about
    ``2 r / ((1 - r^2) L)`` of the long-run variance (the covariances across block ends):
    ``L = 20 r / (1 - r^2)`` keeps that under 10%; at least ``n^(1/3)``, at most ``n / 4``.
    """
    base = n ** (1.0 / 3.0)
    if 0.0 < r < 1.0:
        base = max(base, 20.0 * r / (1.0 - r * r))
    return int(max(1, min(n // 4, math.ceil(base))))


def stationary_indices(rng: np.random.Generator, n: int, shape: tuple[int, int],
                       mean_block: float,
                       prev: NDArray[np.intp] | None = None) -> NDArray[np.intp]:  # fmt: skip
    """Indices into a pool of ``n`` values for ``shape = (runs, t)`` draws, stationary bootstrap.

    Along each row a draw continues the previous one (``+1`` mod ``n``) with probability
    ``1 - 1/mean_block``, else starts a block at a uniform index. ``prev`` (runs,) is the last
    index of each row's previous segment (None: every row starts a block), so a stream drawn in
    segments is the same process as one drawn at once. Two generator calls per segment, in a
    fixed order: deterministic from the generator.
    """
    t = shape[1]
    starts = rng.integers(0, n, size=shape)
    fresh = rng.random(shape) < 1.0 / mean_block
    if prev is None:
        fresh[:, 0] = True
    pos = np.broadcast_to(np.arange(t), shape)
    # the position where each draw's block starts in this segment (-1: before the segment)
    began = np.maximum.accumulate(np.where(fresh, pos, -1), axis=1)
    origin = np.take_along_axis(starts, np.maximum(began, 0), axis=1)
    if prev is not None:
        origin = np.where(began < 0, prev[:, None] + 1, origin)
    return ((origin + pos - np.maximum(began, 0)) % n).astype(np.intp)


def ar1_coefficient(pool: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's AR(1) coefficient on its normal scores, bias-corrected, in [0, 0.98].

    Normal scores ``Phi^-1((rank + 1/2) / n)`` (ties share their mean rank) make the fit
    insensitive to the marginal distribution; the lag-1 autocorrelation is corrected by
    ``(1 + 3 r) / n``, its first-order bias under an AR(1) (Marriott and Pope 1954).
    """
    from scipy.stats import norm, rankdata

    n = pool.shape[1]
    z = norm.ppf((rankdata(pool, axis=1) - 0.5) / n)
    r = lag1(z)
    return np.clip(r + (1.0 + 3.0 * r) / n, 0.0, 0.98)


def ess_factor(pool: NDArray[np.float64], lags: int = 200) -> NDArray[np.float64]:
    """Each row's variance inflation of an empirical CDF at the median under its AR(1) fit.

    For a Gaussian AR(1) with coefficient ``phi`` (:func:`ar1_coefficient`, on normal scores)
    the indicators ``1{X_t <= median}`` have lag-``k`` correlation ``(2 / pi) asin(phi^k)``
    (the orthant probability of a bivariate normal), so a window's empirical CDF there varies
    ``f = 1 + 2 sum_k (2 / pi) asin(phi^k)`` times as much as on independent values: the
    effective sample size is ``n / f``. ``f = 1`` on a row with no positive autocorrelation.
    O(n log n) per row (the ranks), no simulation.

    >>> rng = np.random.default_rng(0)
    >>> e = rng.normal(size=2000)
    >>> ar = np.empty(2000); ar[0] = e[0]
    >>> for t in range(1, 2000):
    ...     ar[t] = 0.5 * ar[t - 1] + e[t]
    >>> f = ess_factor(np.stack([ar, e]))
    >>> bool(2.0 < f[0] < 2.6), bool(1.0 <= f[1] < 1.2)
    (True, True)
    """
    phi = ar1_coefficient(pool)
    k = np.arange(1, lags + 1)
    rho = (2.0 / np.pi) * np.arcsin(phi[:, None] ** k[None, :])
    return 1.0 + 2.0 * rho.sum(axis=1)


def ar1_uniforms(rng: np.random.Generator, phi: NDArray[np.float64], shape: tuple[int, int],
                 prev: NDArray[np.float64] | None = None
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:  # fmt: skip
    """Uniforms ``Phi(Z)`` of stationary Gaussian AR(1) series ``Z`` (runs, t), one per row.

    ``phi`` (runs,) is each row's coefficient, ``prev`` (runs,) the last ``Z`` of the row's
    previous segment (None: a draw from the stationary law). Returns (uniforms, last ``Z``).
    """
    from scipy.special import ndtr

    e = rng.standard_normal(shape)
    t = shape[1]
    z = np.empty(shape)
    scale = np.sqrt(1.0 - phi * phi)
    z[:, 0] = e[:, 0] if prev is None else phi * prev + scale * e[:, 0]
    for j in range(1, t):
        z[:, j] = phi * z[:, j - 1] + scale * e[:, j]
    return ndtr(z), z[:, -1].copy()
