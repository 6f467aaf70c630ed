"""Seeded drift scenarios with their true drift points (numpy only).

Each generator returns a :class:`DriftStream`: ``x`` (n, d) numeric values or (n,) categories,
optional labels ``y``, and ``drift_points`` (the indices where the distribution changes; for a
gradual drift, where the change starts, with ``drift_ends`` where it is complete).

>>> s = abrupt(1000, at=600, shift=1.0, n_features=2, seed=0)
>>> s.x.shape, s.drift_points
((1000, 2), (600,))
>>> bool(0.8 < s.x[600:, 0].mean() - s.x[:600, 0].mean() < 1.2)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DriftStream", "abrupt", "ar1_series", "categorical_shift", "covariate_shift", "gradual",
    "label_shift", "recurring", "variance_change",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DriftStream:
    """A simulated stream and its ground truth."""

    x: NDArray[np.generic]
    drift_points: tuple[int, ...]
    y: NDArray[np.generic] | None = None
    drift_ends: tuple[int, ...] = ()
    name: str = ""


def abrupt(n: int, at: int, shift: float = 1.0, n_features: int = 1, drifting: int = 1,
           seed: int = 0) -> DriftStream:  # fmt: skip
    """Standard normal columns; from ``at`` the first ``drifting`` columns move by ``shift``  sd."""
    x = np.random.default_rng(seed).normal(size=(n, n_features))
    x[at:, :drifting] += shift
    return DriftStream(x, (at,), name=f"abrupt mean shift {shift} sd")


def variance_change(n: int, at: int, factor: float = 2.0, n_features: int = 1,
                    seed: int = 0) -> DriftStream:  # fmt: skip
    """Standard normal; from ``at`` the first column's standard deviation is multiplied."""
    x = np.random.default_rng(seed).normal(size=(n, n_features))
    x[at:, 0] *= factor
    return DriftStream(x, (at,), name=f"variance x{factor**2:g}")


def gradual(n: int, start: int, width: int, shift: float = 1.0, n_features: int = 1,
            seed: int = 0) -> DriftStream:  # fmt: skip
    """Each value comes from the new concept (mean + ``shift``) with a probability rising
    linearly from 0 at ``start`` to 1 at ``start + width`` (the usual gradual drift)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    p = np.clip((np.arange(n) - start) / width, 0.0, 1.0)
    x[rng.random(n) < p, 0] += shift
    return DriftStream(x, (start,), drift_ends=(start + width,), name=f"gradual {shift} sd")


def recurring(n: int, period: int, shift: float = 1.0, n_features: int = 1,
              seed: int = 0) -> DriftStream:  # fmt: skip
    """Two concepts alternating every ``period`` values (drift at each switch)."""
    x = np.random.default_rng(seed).normal(size=(n, n_features))
    on = (np.arange(n) // period) % 2 == 1
    x[on, 0] += shift
    return DriftStream(x, tuple(range(period, n, period)), name="recurring")


def covariate_shift(n: int, at: int, shift: float = 1.0, n_features: int = 2,
                    seed: int = 0) -> DriftStream:  # fmt: skip
    """Binary labels from a fixed logistic P(y|x); from ``at`` the inputs' mean moves."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    x[at:] += shift
    w = np.linspace(1.0, -1.0, n_features)
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w)))
    return DriftStream(x, (at,), y=y.astype(np.int64), name="covariate shift")


def label_shift(n: int, at: int, p_before: float = 0.3, p_after: float = 0.7,
                n_features: int = 2, seed: int = 0) -> DriftStream:  # fmt: skip
    """P(x|y) fixed (class means ±0.5); the class prior moves from ``p_before`` to ``p_after``."""
    rng = np.random.default_rng(seed)
    prior = np.where(np.arange(n) < at, p_before, p_after)
    y = (rng.random(n) < prior).astype(np.int64)
    x = rng.normal(size=(n, n_features)) + (y[:, None] - 0.5)
    return DriftStream(x, (at,), y=y, name="label shift")


def categorical_shift(n: int, at: int, p_before: list[float] | None = None,
                      p_after: list[float] | None = None,
                      seed: int = 0) -> DriftStream:  # fmt: skip
    """Categories "c0", "c1", ... drawn with ``p_before``, then with ``p_after`` from ``at``."""
    p0 = np.asarray(p_before or [0.4, 0.3, 0.2, 0.1])
    p1 = np.asarray(p_after or [0.25, 0.25, 0.25, 0.25])
    rng = np.random.default_rng(seed)
    cats = np.array([f"c{i}" for i in range(len(p0))])
    x = np.concatenate([rng.choice(cats, at, p=p0), rng.choice(cats, n - at, p=p1)])
    return DriftStream(x, (at,), name="categorical shift")


def ar1_series(rng: np.random.Generator, size: int, phi: float, burn_in: int = 200) -> NDArray:
    """A stationary Gaussian AR(1) series ``x[t] = phi x[t-1] + e[t]`` (unit innovations), from
    ``rng``, after ``burn_in`` values (the calibration tests' autocorrelated streams).

    >>> x = ar1_series(np.random.default_rng(0), 20_000, 0.5)
    >>> bool(abs(np.corrcoef(x[:-1], x[1:])[0, 1] - 0.5) < 0.03)
    True
    """
    e = rng.normal(size=size + burn_in)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + e[t]
    return x[burn_in:]
