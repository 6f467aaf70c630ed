"""Threshold calibration to an expected run time (ERT) between false alarms.

A detector checks every ``k`` events over overlapping windows, so successive checks are
correlated and a per-check p-value says little about how often a stationary stream raises an
alarm. Instead we simulate the detector itself on whole stationary streams (drawn from the
reference: a smoothed bootstrap, or uniforms when the statistic is distribution-free), record its
statistic (the maximum over all monitored columns, which handles several features at once) at
every check of every run, and pick the smallest threshold ``c`` whose mean number of events
between false alarms reaches ``ert``: each run is replayed with the detector's restarts (an
alarm empties the window), and alarms are pooled over runs, so ``ert`` is the inverse of the
false-alarm rate averaged over reference samples. With a fixed reference some references alarm
more often than others; pooling rates (rather than averaging run lengths, which long-lived
"lucky" references dominate) keeps the total alarm load of many monitored streams at one per
``ert`` events. Runs are simulated over about two ERTs each. For reporting,
``per_check_probability`` is the hazard ``p = k / (ert - w + k)`` a memoryless detector with its
first check ``w`` events after a (re)start would need.

This is the idea of calibrating online detectors by simulating their run lengths, as in Cobb,
Van Looveren and Klaise (2022), *Sequential multivariate change detection with calibrated and
memoryless false detection rates*, AISTATS; here with one constant threshold fitted to the mean
run length (a quantity users can check) rather than per-step thresholds.

>>> import numpy as np
>>> spec = Spec("toy", 1, 10, 10, 5, ert=60.0)
>>> round(per_check_probability(spec), 4)
0.0909
>>> stats = np.random.default_rng(0).random((400, 40))
>>> c = threshold_for_ert(stats, 60.0, warmup=10, k=5)
>>> 55 < mean_run_length(stats, c, 10, 5) < 65, 0.85 < c < 0.95
(True, True)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from stream_ml.errors import ConfigError

__all__ = [
    "Spec",
    "horizon",
    "mean_run_length",
    "n_runs",
    "per_check_probability",
    "threshold_for_ert",
]

Method = Literal["auto", "bootstrap", "uniform"]

_MIN_RUNS = 300
_MAX_RUNS = 4000
_MAX_WORK = 150_000_000  # runs x checks x (reference + window) x columns
_HORIZON_ERTS = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """What a calibration depends on (frozen, hashable)."""

    statistic: str
    n_features: int
    reference_size: int
    window_size: int
    check_every: int
    ert: float
    reference: str = "fixed"
    lag: int = 0
    n_simulations: int | None = None

    @property
    def warmup(self) -> int:
        """Events from a (re)start to the first check."""
        if self.reference == "fixed":
            return self.window_size
        return self.reference_size + self.lag + self.window_size


def per_check_probability(spec: Spec) -> float:
    """The per-check false-alarm probability that gives a mean run length of ``spec.ert``."""
    k = spec.check_every
    p = k / (spec.ert - spec.warmup + k)
    if not 0.0 < p < 1.0:
        raise ConfigError(f"ert={spec.ert} must exceed the {spec.warmup} events a check needs")
    return p


def horizon(spec: Spec) -> int:
    """Checks simulated per run: about ``2 * ert`` events, so that few runs end censored."""
    memory = spec.window_size if spec.reference == "fixed" else spec.warmup
    return max(20, math.ceil(4 * memory / spec.check_every),
               math.ceil(_HORIZON_ERTS * spec.ert / spec.check_every))  # fmt: skip


def n_runs(spec: Spec, n_checks: int) -> int:
    """Runs to simulate: as many as a bound on the work allows, within [400, 4000]."""
    if spec.n_simulations is not None:
        return spec.n_simulations
    per_run = n_checks * (spec.reference_size + spec.window_size) * spec.n_features
    return int(min(_MAX_RUNS, max(_MIN_RUNS, _MAX_WORK // per_run)))


def mean_run_length(stats: NDArray[np.float64], c: float, warmup: int, k: int) -> float:
    """Mean events between false alarms of threshold ``c`` over simulated runs (runs, checks).

    Each run is replayed as the detector would behave: an alarm at a check restarts the window,
    so the next check that can fire is ``warmup`` events later. The estimate is the pooled
    events / alarms over all runs, i.e. the inverse of the false-alarm rate averaged over
    reference samples (what an operator watching many streams sees).
    """
    n_runs, n_checks = stats.shape
    gap = -(-warmup // k)
    ready = np.zeros(n_runs, dtype=np.int64)
    alarms = 0
    above = stats > c
    for j in np.flatnonzero(above.any(axis=0)):
        hit = above[:, j] & (ready <= j)
        if hit.any():
            alarms += int(hit.sum())
            ready[hit] = j + gap
    events = n_runs * (warmup + (n_checks - 1) * k)
    return events / max(alarms, 0.5)


def threshold_for_ert(stats: NDArray[np.float64], ert: float, warmup: int, k: int) -> float:
    """The smallest simulated statistic ``c`` whose mean time between alarms reaches ``ert``."""
    candidates = np.unique(stats)
    lo, hi = 0, len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_run_length(stats, float(candidates[mid]), warmup, k) >= ert:
            hi = mid
        else:
            lo = mid + 1
    return float(candidates[lo])
