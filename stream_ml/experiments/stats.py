"""Statistics for experiments: per-arm metrics with intervals, an always-valid sequential test,
and the sign test for interleaving.

* Wilson score interval for a proportion (Wilson 1927, "Probable inference, the law of
  succession, and statistical inference", JASA 22); a normal interval for real-valued metrics.
* Mixture sequential probability ratio test (mSPRT) for the difference of two means, always valid
  under continuous monitoring (Johari, Koomen, Pekelis, Walsh 2017, "Peeking at A/B tests: why it
  matters, and what to do about it", KDD; and Johari, Pekelis, Walsh 2015, "Always valid
  inference", arXiv:1512.04922). With the normal mixing distribution N(theta0, tau^2) and a
  difference estimate of variance V, the mixture likelihood ratio is::

      Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 V (V + tau^2)))

  and the always-valid p-value is the running minimum of ``min(1, 1/Lambda)``. Rejecting when it
  is below alpha keeps the false-positive rate at alpha however often the dashboard is watched.
* Sign test for interleaving wins and losses (ties dropped), by ``scipy.stats.binomtest``.

>>> a, b = ArmStats(), ArmStats()
>>> for x in [1, 0, 1, 1]: a.update(x)
>>> a.n, a.mean, a.interval()[0] < 0.75 < a.interval()[1]
(4, 0.75, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Any

from scipy.stats import binomtest

from stream_ml.experiments.errors import ExperimentConfigError

__all__ = [
    "ArmStats",
    "BurnInStats",
    "MixtureSPRT",
    "normal_interval",
    "sign_test",
    "wilson_interval",
]


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927).

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.49, 0.943)
    """
    if n <= 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def normal_interval(
    mean: float, variance: float, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Normal (Wald) interval ``mean +- z * sqrt(variance / n)``.

    >>> normal_interval(1.0, 4.0, 16)
    (0.02..., 1.97...)
    """
    if n <= 0:
        return (-math.inf, math.inf)
    half = _z(confidence) * math.sqrt(max(variance, 0.0) / n)
    return (mean - half, mean + half)


class ArmStats:
    """Running count, mean and variance of one arm's metric (Welford's update).

    Binary metrics (every value 0 or 1) get a Wilson interval, others a normal interval.

    Examples
    --------
    >>> s = ArmStats()
    >>> for x in [1.0, 2.0, 3.0]: s.update(x)
    >>> s.n, s.mean, s.variance, s.binary
    (3, 2.0, 1.0, False)
    """

    __slots__ = ("binary", "m2", "mean", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.binary = True

    def update(self, x: float) -> None:
        """Add one observation."""
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)
        if self.binary and x != 0.0 and x != 1.0:
            self.binary = False

    @property
    def variance(self) -> float:
        """Sample variance (unbiased); 0 with fewer than two observations."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Interval for the mean: Wilson for binary metrics, normal otherwise."""
        if self.binary:
            return wilson_interval(self.mean * self.n, self.n, confidence)
        return normal_interval(self.mean, self.variance, self.n, confidence)

    def as_dict(self, confidence: float = 0.95) -> dict[str, Any]:
        """Count, mean and interval, for summaries."""
        lo, hi = self.interval(confidence)
        return {"n": self.n, "mean": self.mean, "low": lo, "high": hi}

    def __getstate__(self) -> tuple[int, float, float, bool]:
        return (self.n, self.mean, self.m2, self.binary)

    def __setstate__(self, state: tuple[int, float, float, bool]) -> None:
        self.n, self.mean, self.m2, self.binary = state


class MixtureSPRT:
    """Always-valid two-sample test of ``mean(b) - mean(a) == theta0`` (Johari et al. 2017).

    Call :meth:`update` with the two arms' :class:`ArmStats` as often as you like (every event, or
    whenever the dashboard refreshes): the p-value is the running minimum of ``1/Lambda`` and the
    confidence sequence is the running intersection, both valid at any stopping time.

    Parameters
    ----------
    tau
        Standard deviation of the normal mixing distribution over effects, in metric units.
        Pick the size of effect you expect (Johari et al. recommend tuning it on past tests).
    alpha
        Significance level.
    theta0
        The null difference.
    min_samples
        No decision before each arm has this many observations (the normal approximation of the
        difference needs a few).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b, test = ArmStats(), ArmStats(), MixtureSPRT(tau=0.1)
    >>> for _ in range(3000):
    ...     a.update(float(rng.random() < 0.30)); b.update(float(rng.random() < 0.40))
    ...     test.update(a, b)
    >>> test.rejected, test.p_value < 0.05, test.low > 0
    (True, True, True)
    """

    def __init__(
        self, tau: float = 0.05, alpha: float = 0.05, theta0: float = 0.0, min_samples: int = 30
    ) -> None:
        self.tau2 = tau * tau
        self.alpha = alpha
        self.theta0 = theta0
        self.min_samples = min_samples
        self.reset()

    def reset(self) -> None:
        """Forget the evidence (p-value, confidence sequence): a new test, same parameters."""
        self.p_value = 1.0
        self.low = -math.inf
        self.high = math.inf
        self.statistic = 1.0
        self.difference = 0.0

    @staticmethod
    def _var(s: ArmStats) -> float:
        if s.binary:  # Bernoulli plug-in, kept off zero so that early all-0 arms are not certain
            p = (s.mean * s.n + 0.5) / (s.n + 1.0)
            return p * (1.0 - p)
        return s.variance

    def update(self, a: ArmStats, b: ArmStats) -> None:
        """Recompute from the arms' current statistics; keeps the running min / intersection."""
        if a.n < self.min_samples or b.n < self.min_samples:
            return
        self._update(b.mean - a.mean, self._var(a) / a.n + self._var(b) / b.n)

    def update_one(self, s: ArmStats) -> None:
        """One-sample version: test ``mean(s) == theta0`` (e.g. interleaving outcomes)."""
        if s.n < self.min_samples:
            return
        self._update(s.mean, self._var(s) / s.n)

    def _update(self, d: float, v: float) -> None:
        if v <= 0.0:
            return
        self.difference = d
        t2 = self.tau2
        log_lam = 0.5 * math.log(v / (v + t2)) + t2 * (d - self.theta0) ** 2 / (2 * v * (v + t2))
        self.statistic = math.exp(min(log_lam, 700.0))
        self.p_value = min(self.p_value, math.exp(-max(log_lam, 0.0)))
        # {theta: Lambda(theta) < 1/alpha}
        half = math.sqrt(
            2 * v * (v + t2) / t2 * (math.log(1 / self.alpha) + 0.5 * math.log((v + t2) / v))
        )
        self.low = max(self.low, d - half)
        self.high = min(self.high, d + half)

    @property
    def rejected(self) -> bool:
        """True once the always-valid p-value is at or below alpha."""
        return self.p_value <= self.alpha

    def as_dict(self) -> dict[str, Any]:
        """The evidence: difference, statistic, always-valid p-value and confidence sequence."""
        return {
            "test": "mSPRT (Johari et al. 2017)",
            "difference": self.difference,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "low": self.low,
            "high": self.high,
            "alpha": self.alpha,
            "tau": math.sqrt(self.tau2),
            "rejected": self.rejected,
        }


class BurnInStats:
    """Per-arm statistics that start after each arm's first ``burn_in`` observations.

    A sequential test is fed these, while the arms' usual statistics (what summaries report as
    the arm's mean and interval) count every observation. Call :meth:`observe` after each update
    of the usual statistics, with the arm's count including that observation. With
    ``burn_in = 0`` nothing is kept: :meth:`view` returns the usual statistics themselves, so
    the test sees exactly what it saw before burn-in existed.

    >>> reported, burn = {"a": ArmStats()}, BurnInStats(["a"], burn_in=2)
    >>> for x in [0.0, 0.0, 1.0, 1.0]:
    ...     reported["a"].update(x); burn.observe("a", x, reported["a"].n)
    >>> reported["a"].mean, burn.view(reported)["a"].n, burn.view(reported)["a"].mean
    (0.5, 2, 1.0)
    >>> burn.left(reported)
    {'a': 0}
    """

    __slots__ = ("burn_in", "tested")

    def __init__(self, arms: Iterable[str], burn_in: int = 0) -> None:
        if isinstance(burn_in, bool) or not isinstance(burn_in, int) or burn_in < 0:
            raise ExperimentConfigError(f"burn_in must be an integer >= 0, got {burn_in!r}")
        self.burn_in = burn_in
        self.tested: dict[str, ArmStats] = {a: ArmStats() for a in arms} if burn_in else {}

    def observe(self, arm: str, value: float, n: int) -> None:
        """``value`` is ``arm``'s ``n``-th observation (counting the burn-in)."""
        if self.burn_in and n > self.burn_in:
            s = self.tested.get(arm)
            if s is not None:
                s.update(value)

    def view(self, stats: Mapping[str, ArmStats]) -> Mapping[str, ArmStats]:
        """The statistics to test: after the burn-in (``stats`` itself when there is none)."""
        return self.tested if self.burn_in else stats

    def left(self, stats: Mapping[str, ArmStats]) -> dict[str, int]:
        """Per arm, observations still to come before the test is fed."""
        return {a: max(self.burn_in - s.n, 0) for a, s in stats.items()}

    def as_dict(self, stats: Mapping[str, ArmStats], confidence: float = 0.95) -> dict[str, Any]:
        """The setting, what is left per arm, and what the test saw per arm."""
        return {
            "rewards": self.burn_in,
            "left": self.left(stats),
            "tested": {a: s.as_dict(confidence) for a, s in self.view(stats).items()},
        }

    def __getstate__(self) -> tuple[int, dict[str, ArmStats]]:
        return (self.burn_in, self.tested)

    def __setstate__(self, state: tuple[int, dict[str, ArmStats]]) -> None:
        self.burn_in, self.tested = state


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test p-value of wins against losses (ties dropped), by ``binomtest``.

    >>> round(sign_test(30, 10), 4)
    0.0022
    >>> sign_test(0, 0)
    1.0
    """
    n = wins + losses
    if n == 0:
        return 1.0
    return float(binomtest(wins, n, 0.5).pvalue)
