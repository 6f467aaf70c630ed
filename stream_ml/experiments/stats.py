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
* A betting test (test martingale, e-values) for the mean of bounded paired differences
  (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by betting",
  JRSS-B 86; Shafer 2021, "Testing by betting", JRSS-A 184): :class:`BettingTest`. Exact at
  every sample size: no variance is estimated, so its type-I error is not spent where a
  plug-in variance is wrong (small n). See the class docs.
* Sign test for interleaving wins and losses (ties dropped), by ``scipy.stats.binomtest``.

>>> a, b = ArmStats(), ArmStats()
>>> for x in [1, 0, 1, 1]: a.update(x)
>>> a.n, a.mean, a.interval()[0] < 0.75 < a.interval()[1]
(4, 0.75, True)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Any

from scipy.stats import binomtest

from stream_ml.experiments.errors import ExperimentConfigError

__all__ = [
    "ArmStats",
    "BettingTest",
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


#: The bets a :class:`BettingTest` spreads its wealth over: geometric, 0.8 down to 0.8 / 2**11.
BETS = tuple(0.8 * 2.0 ** (-k / 2.0) for k in range(23))
#: The share of a :class:`BettingTest`'s wealth spread evenly over :data:`BETS` (the rest goes
#: by the tau-scaled weights), so that a large difference is found fast.
FLOOR = 0.1


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else -math.inf


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(x - m) for x in xs))


class BettingTest:
    """Always-valid test of ``mean(d) == theta0`` for differences ``d`` in [-1, 1], by betting.

    A gambler who bets a fraction ``lam`` of her wealth on each difference, ``W *= 1 + lam *
    (d - theta0)``, holds a nonnegative martingale with ``W_0 = 1`` when the mean is theta0, so
    by Ville's inequality her wealth ever reaching ``2 / alpha`` has probability at most
    ``alpha / 2`` (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by
    betting", JRSS-B 86; Shafer 2021, "Testing by betting", JRSS-A 184). The test splits its
    wealth over the bets :data:`BETS` (``lam`` from 0.8 down to 0.8 / 2**11; "diversified
    Kelly", Waudby-Smith & Ramdas sec. 5.7): a share :data:`FLOOR` evenly, the rest with weights
    ``lam * exp(-lam^2 / (2 tau^2))``, for a gambler betting up and one betting down (each at
    ``alpha / 2``). Nothing is estimated, so the error guarantee is exact at every sample size,
    for every distribution on [-1, 1]: no normal approximation, no plug-in variance, no
    minimum sample. Bets that could lose the whole wealth at ``theta0`` are not placed.

    ``tau`` is the scale of the bets, as the mixing scale is the mSPRT's: the Kelly bet for a
    difference ``delta`` in the means of binary metrics is ``delta / P(pair disagrees)``, about
    2-3 x delta, so centring the weights on ``tau`` leans towards bets smaller than the effect
    ``tau``. A small bet needs many observations to grow, so the weights also decide *when* the
    type-I error is spent: here mostly after about a thousand disagreeing pairs, where the
    mSPRT spent much of it in its first few hundred observations. The even share on the
    large bets finds gross differences (a broken canary) within a few dozen pairs.

    Two-sample use: :meth:`update_a` / :meth:`update_b` pair the arms' values in arrival order
    (``d = b - a``, values in [0, 1]); a value waiting for its partner stays in a queue of at most
    ``max_queue`` per arm (the oldest is dropped; pairing never looks at values, so the test
    stays exact). With unequal traffic the surplus of the larger arm is not used: the test has
    the power of ``min(n_a, n_b)`` pairs. ``sides=("down",)`` keeps only the gambler betting
    that the mean is below theta0 (a one-sided guard, still at ``alpha / 2``). One-sample use
    (interleaving outcomes): :meth:`add`. While every difference is in {-1, 0, 1} (binary
    metrics, win / tie / loss) an update is a counter increment and the wealth follows from the
    counts; after the first other difference, an update multiplies the 2 x 23 wealths.
    :meth:`check` (O(23), nothing to do when no difference arrived since the last one) updates
    the always-valid p-value ``min(1, 2 / wealth)`` (running minimum) and, at the first
    rejection, the sign (``direction``), after which the wealth stops. ``low`` / ``high`` are a
    confidence sequence for the mean difference (running intersection), computed by
    :meth:`as_dict` and at the rejection from the win / tie / loss counts, so for differences
    in {-1, 0, 1} only (else -inf / inf).

    Examples
    --------
    >>> import numpy as np
    >>> rng, test = np.random.default_rng(0), BettingTest(tau=0.05)
    >>> for _ in range(6000):
    ...     test.update_a(float(rng.random() < 0.30)); test.update_b(float(rng.random() < 0.36))
    >>> test.check(), test.direction, test.as_dict()["low"] > 0
    (True, 1, True)
    >>> aa = BettingTest()
    >>> for _ in range(6000):
    ...     aa.update_a(float(rng.random() < 0.3)); aa.update_b(float(rng.random() < 0.3))
    >>> aa.check(), aa.direction
    (False, 0)
    """

    __slots__ = (
        "_checked",
        "_down",
        "_factors",
        "_logf",
        "_qa",
        "_qb",
        "_up",
        "_weights",
        "alpha",
        "direction",
        "high",
        "losses",
        "low",
        "max_queue",
        "n",
        "p_value",
        "sides",
        "statistic",
        "tau",
        "ternary",
        "theta0",
        "ties",
        "total",
        "wins",
    )

    def __init__(
        self,
        alpha: float = 0.05,
        tau: float = 0.05,
        theta0: float = 0.0,
        max_queue: int = 1000,
        sides: tuple[str, ...] = ("up", "down"),
    ) -> None:
        if not sides or not set(sides) <= {"up", "down"}:
            raise ExperimentConfigError(f"sides must be 'up' and / or 'down', got {sides!r}")
        self.sides = tuple(sides)
        if not -1.0 < theta0 < 1.0:
            raise ExperimentConfigError(f"theta0 must be in (-1, 1), got {theta0!r}")
        if not (0.0 < alpha < 1.0 and tau > 0.0 and max_queue >= 1):
            raise ExperimentConfigError(
                f"need 0 < alpha < 1, tau > 0, max_queue >= 1: {alpha!r}, {tau!r}, {max_queue!r}"
            )
        self.alpha, self.tau, self.theta0, self.max_queue = alpha, tau, theta0, max_queue
        # a bet may not risk more than the whole wealth: 1 + lam * (d - theta0) > 0 on [-1, 1]
        ok = [lam * (1.0 + abs(theta0)) < 1.0 for lam in BETS]
        w = [lam * math.exp(-0.5 * (lam / tau) ** 2) * k for lam, k in zip(BETS, ok, strict=True)]
        total, count = sum(w), sum(ok)
        self._weights = [
            (1.0 - FLOOR) * (x / total if total > 0.0 else k / count) + FLOOR * k / count
            for x, k in zip(w, ok, strict=True)
        ]
        m = theta0
        # per difference in {-1, 0, 1}: each bet's wealth factor, for the up and the down gambler
        self._factors = {
            d: ([1.0 + lam * (d - m) for lam in BETS], [1.0 - lam * (d - m) for lam in BETS])
            for d in (-1.0, 0.0, 1.0)
        }
        # the same, as logs, per placed bet: (log weight, up +1, up 0, up -1, down +1, 0, -1)
        self._logf = [
            (
                math.log(wj),
                math.log1p(lam * (1.0 - m)),
                math.log1p(-lam * m),
                math.log1p(-lam * (1.0 + m)),
                math.log1p(-lam * (1.0 - m)),
                math.log1p(lam * m),
                math.log1p(lam * (1.0 + m)),
            )
            for wj, lam in zip(self._weights, BETS, strict=True)
            if wj > 0.0
        ]
        self.reset()

    def reset(self) -> None:
        """Forget the evidence and the queued values: a new test, same parameters."""
        self.n = self.wins = self.ties = self.losses = self._checked = 0
        self.total = 0.0
        self.ternary = True
        # each bet's wealth times its weight (so the mixture's wealth is the sum); while every
        # difference is in {-1, 0, 1} the wealth follows from the counts and these stay None
        self._up: list[float] | None = None
        self._down: list[float] | None = None
        self._qa: deque[float] = deque(maxlen=self.max_queue)
        self._qb: deque[float] = deque(maxlen=self.max_queue)
        self.p_value = 1.0
        self.statistic = 1.0
        self.direction = 0
        self.low, self.high = -math.inf, math.inf

    # -- feeding ------------------------------------------------------------------------------
    def update_a(self, x: float) -> None:
        """One value of arm a (in [0, 1]); paired with the oldest waiting value of arm b."""
        if self._qb:
            self.add(self._qb.popleft() - x)
        else:
            self._qa.append(x)

    def update_b(self, x: float) -> None:
        """One value of arm b (in [0, 1]); paired with the oldest waiting value of arm a."""
        if self._qa:
            self.add(x - self._qa.popleft())
        else:
            self._qb.append(x)

    def add(self, d: float) -> None:
        """One difference ``d`` in [-1, 1] (one-sample use, or a pair)."""
        self.n += 1
        self.total += d
        if d == 1.0:
            self.wins += 1
        elif d == -1.0:
            self.losses += 1
        elif d == 0.0:
            self.ties += 1
        elif self.direction == 0:  # the first difference not in {-1, 0, 1}: wealth per bet
            if self._up is None:  # the counts so far (this d is not among them)
                self._up, self._down = self._count_wealths()
            self.ternary = False
        else:
            self.ternary = False
        if self.direction or self._up is None or self._down is None:
            return  # decided (the counts go on), or the wealth follows from the counts
        f = self._factors.get(d)
        if f is None:
            x = d - self.theta0
            self._up = [v * (1.0 + lam * x) for v, lam in zip(self._up, BETS, strict=True)]
            self._down = [v * (1.0 - lam * x) for v, lam in zip(self._down, BETS, strict=True)]
        elif d != 0.0 or self.theta0 != 0.0:  # a tie at theta0 = 0 changes nothing
            self._up = [v * g for v, g in zip(self._up, f[0], strict=True)]
            self._down = [v * g for v, g in zip(self._down, f[1], strict=True)]

    def _count_wealths(self) -> tuple[list[float], list[float]]:
        """Per bet, weighted wealth of the up and the down gambler from the win / tie / loss
        counts (every bet, 0 for those not placed)."""
        w, t, lo = self.wins, self.ties, self.losses
        up, down = [0.0] * len(BETS), [0.0] * len(BETS)
        placed = [j for j, wj in enumerate(self._weights) if wj > 0.0]
        for j, (lw, u1, u0, um, d1, d0, dm) in zip(placed, self._logf, strict=True):
            up[j] = math.exp(min(lw + w * u1 + t * u0 + lo * um, 700.0))
            down[j] = math.exp(min(lw + w * d1 + t * d0 + lo * dm, 700.0))
        return up, down

    # -- evidence -----------------------------------------------------------------------------
    def _log_wealths(self, m: float, w: int, t: int, lo: int) -> list[float]:
        """Per bet, log wealth of betting up on ``w`` wins, ``t`` ties, ``lo`` losses, null m."""
        return [
            w * math.log1p(lam * (1.0 - m))
            + t * math.log1p(-lam * m)
            + lo * math.log1p(-lam * (1.0 + m))
            if lam * (1.0 + abs(m)) < 1.0
            else -math.inf  # a bet that could lose everything at this null is not placed
            for lam in BETS
        ]

    def _log_up(self, m: float) -> float:
        ws = self._log_wealths(m, self.wins, self.ties, self.losses)
        return _logsumexp([_log(a) + b for a, b in zip(self._weights, ws, strict=True)])

    def _log_down(self, m: float) -> float:
        ws = self._log_wealths(-m, self.losses, self.ties, self.wins)
        return _logsumexp([_log(a) + b for a, b in zip(self._weights, ws, strict=True)])

    def wealth(self) -> tuple[float, float]:
        """Wealth of the up and the down gambler now (each started with 1)."""
        if self._up is None or self._down is None:
            w, t, lo = self.wins, self.ties, self.losses
            return (
                sum(
                    math.exp(min(f[0] + w * f[1] + t * f[2] + lo * f[3], 700.0)) for f in self._logf
                ),
                sum(
                    math.exp(min(f[0] + w * f[4] + t * f[5] + lo * f[6], 700.0)) for f in self._logf
                ),
            )
        return sum(self._up), sum(self._down)

    def check(self) -> bool:
        """Update the p-value (running minimum) and, at the first rejection, the sign. O(23),
        and nothing to do when no difference arrived since the last check."""
        if self.n == self._checked or self.direction:
            return self.rejected
        self._checked = self.n
        up, down = self.wealth()
        up = up if "up" in self.sides else 0.0
        down = down if "down" in self.sides else 0.0
        best = max(up, down, 1.0)
        self.statistic = best
        self.p_value = min(self.p_value, 2.0 / best)
        if self.p_value <= self.alpha:
            self.direction = 1 if up >= down else -1
            self.interval()
        return self.rejected

    def _solve(self, f: Any, target: float, lo: float, hi: float) -> float:
        """The m in [lo, hi] where the decreasing ``f`` crosses ``target`` (bisection)."""
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if f(mid) >= target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def interval(self) -> tuple[float, float]:
        """Confidence sequence for the mean difference (running intersection); {-1, 0, 1}
        differences only (else (-inf, inf))."""
        if self.n == 0 or not self.ternary:
            return self.low, self.high
        target = math.log(2.0 / self.alpha)
        eps = 1e-9
        if self._log_up(-1.0 + eps) < target:
            low = -1.0
        else:
            low = self._solve(self._log_up, target, -1.0 + eps, 1.0 - eps)
        if self._log_down(1.0 - eps) < target:
            high = 1.0
        else:  # _log_down increases with m
            high = -self._solve(lambda m: self._log_down(-m), target, -1.0 + eps, 1.0 - eps)
        self.low, self.high = max(self.low, low), min(self.high, high)
        return self.low, self.high

    @property
    def rejected(self) -> bool:
        """True once the always-valid p-value is at or below alpha."""
        return self.p_value <= self.alpha

    def as_dict(self) -> dict[str, Any]:
        """The evidence: mean difference, wealth, always-valid p-value, confidence sequence."""
        self.interval()
        return {
            "test": "betting (Waudby-Smith & Ramdas 2023)",
            "difference": self.total / self.n if self.n else 0.0,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "low": self.low,
            "high": self.high,
            "alpha": self.alpha,
            "tau": self.tau,
            "theta0": self.theta0,
            "rejected": self.rejected,
            "direction": self.direction,
            "pairs": self.n,
            "waiting": len(self._qa) + len(self._qb),
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
