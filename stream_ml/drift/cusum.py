"""A sequential change detector for metric and error streams: a bank of CUSUMs on one value.

Page's CUSUM (Page, E. S. (1954). *Continuous inspection schemes*. Biometrika 41) detects a
shift of known size fastest among detectors with the same false-alarm rate (Lorden 1971;
Moustakides 1986). When the size is unknown, the generalized likelihood ratio
``max_tau max_mu sum_{t>tau} (mu z_t - mu^2 / 2)`` (Lorden's GLR-CUSUM, computed exactly by
FOCuS: Romano, Eckley, Fearnhead and Rigaill (2023), *Fast online changepoint detection via
functional pruning CUSUM statistics*, JMLR 24) is within a constant of the best CUSUM for any
size. Here that maximum over ``mu`` is taken over a grid (``shifts``, in reference standard
deviations, both directions by default), which costs a fixed ``2 * len(shifts)`` additions per
value: each grid point's CUSUM is the exact maximum over ``tau`` for that ``mu``, and a grid
with ratio 2 between neighbours loses at most a quarter of the log-likelihood ratio of a shift
between two of them (the statistic of ``mu`` read at ``mu'`` is ``mu' mu - mu'^2 / 2``). Two
more CUSUMs (``variance``, the variance ratios) see a variance increase, whose mean stays put:
increments ``z^2 (1 - 1/v) / 2 - log(v) / 2``, the log-likelihood ratio of N(0, v) to N(0, 1).

Values are standardized by the mean and standard deviation of the first ``reference_size``
values (the reference; a constant reference gets the standard deviation ``max(|mean|, 1) /
sqrt(n)``, so that any change alarms soon). The detector alarms when the largest of its CUSUMs
exceeds the threshold; then every CUSUM restarts at 0 and the reference is kept (the time to the
next false alarm is a renewal). ``state.window_start`` is the estimated change point (where the
CUSUM that alarmed last left 0).

**Calibration to the ERT** (the mean number of values between false alarms on a stationary
stream, pooled over references): the detector is simulated on streams drawn from its
reference, each run with its own resampled reference (so the estimation of the mean and
standard deviation is simulated too), as an amortized job (:class:`CUSUMCalibration`: a bounded
slice of work per ``update``; no alarm until it is done, ``calibration["status"] ==
"interim"``). A run is simulated over ``ert / 2`` values and the pilot threshold is the
smallest whose pooled rate of first alarms, ``runs with an alarm / values watched until then``,
is ``1 / ert``; the detector itself (restarts included) is then run at two thresholds, its
alarms counted after a burn-in (:func:`burn_in`: a bank restarted at 0 alarms less often than
a stationary one, which over ``ert / 2`` values over-stated the ERT by ~5%). Because the
CUSUMs are the likelihood ratios of a Gaussian model, the threshold of a skewed error stream
(0/1 errors) or of a discrete metric differs a lot from the Gaussian one: the bootstrap
handles both.

**A reference with ties** (0/1 errors, counts) is calibrated against the *live* reference:
every run standardizes by the detector's own mean and standard deviation and draws its values
from a per-run surrogate distribution (a multinomial resample of the reference's atoms), so
the estimation error is simulated once, as the live detector meets it. Resampling the
reference instead made the threshold a function of the reference's own error (on 0/1 data the
standard deviation is tied to the mean: a reference with too few errors, whose detector alarms
most, got a higher threshold than the true rate needs): events per alarm 1.40x the ERT. Two
more things make the live design hold: standardized values get a small Gaussian jitter
(``JITTER`` = 0.2, in the detector and in the simulation; +4% variance), because on a lattice
(0/1 values) the ERT of a fixed reference is a step function of the threshold (steps of 2-3x
at the values that the few-value alarms of the large shifts reach), and values are clipped to
the reference's range, because a resample cannot draw the values a count stream shows beyond
its reference's extremes (Poisson(2): 0.65x the ERT without the clip, whichever design).
With
``dependence = "ar1"`` (or ``"auto"`` on a reference with significant lag-1 autocorrelation,
:mod:`stream_ml.drift.dependence`) the streams are drawn from a Gaussian-copula AR(1) fitted to
the reference (a sieve bootstrap) with the reference's values as marginal, which keeps the
autocorrelation that makes a CUSUM cross sooner; ``"block"`` uses the stationary block
bootstrap (Politis and Romano 1994) instead.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> det = CUSUMDetector(reference_size=200, ert=2000, n_simulations=400, seed=0)
>>> xs = np.r_[rng.normal(0, 1, 1500), rng.normal(1.0, 1, 300)]
>>> hits = []
>>> for i, x in enumerate(xs):
...     det.update(x)
...     if det.drift_detected:
...         hits.append(i)
>>> det.calibration["status"], det.calibration["since"] < 1000
('calibrated', True)
>>> first = [i for i in hits if i >= 1500][0]
>>> first < 1540, det.state.window_end == len(xs)
(True, True)
"""

from __future__ import annotations

import math
import random
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift.base import DriftCheck
from stream_ml.drift.dependence import (
    Dependence,
    ar1_coefficient,
    ar1_uniforms,
    block_length,
    lag1,
    serially_correlated,
    stationary_indices,
)  # fmt: skip
from stream_ml.drift.seeding import DEFAULT_SEED
from stream_ml.errors import ConfigError

__all__ = ["CUSUMCalibration", "CUSUMDetector", "standardizer"]

Array = NDArray[np.float64]
Sides = Literal["both", "up", "down"]
#: work of the calibration per ``update``, in array cells (about a millisecond)
UPDATE_CELLS = 150_000
_FLOOR = 1.0  # first-passage records below this statistic are not kept (no ERT needs them)
_MIN_RUNS, _MAX_RUNS, _TARGET_ALARMS = 400, 4000, 800
_SPAN = 1.0  # stage 2 simulates the pilot threshold and the pilot + _SPAN
#: standard deviation of the noise added to standardized values of a reference with ties
JITTER = 0.2


def standardizer(ref: Array) -> tuple[Array, Array]:
    """Row-wise (mean, 1 / standard deviation) of references (r, n), with the constant floor."""
    n = ref.shape[-1]
    mu = ref.mean(axis=-1)
    sd = ref.std(axis=-1, ddof=1)
    floor = np.maximum(np.abs(mu), 1.0) / math.sqrt(n)
    sd = np.where(sd > 1e-12 * np.maximum(np.abs(mu), 1.0), sd, floor)
    return mu, 1.0 / sd


def burn_in(a: Array, q: Array, e: Array, horizon: int) -> int:
    """Values a restarted bank needs to forget its start: 4 relaxation times of its slowest CUSUM.

    Under N(0, 1) CUSUM ``j``'s increment has drift ``q_j - e_j`` (< 0) and variance
    ``a_j^2 + 2 q_j^2``; its reflected walk relaxes in about ``variance / drift^2`` steps
    (``4 / mu^2`` for a mean shift ``mu``: 64 for 0.25). At most ``horizon``.
    """
    drift = np.minimum(q - e, -1e-3)
    scale = float(np.max((a * a + 2.0 * q * q) / (drift * drift)))
    return int(min(horizon, math.ceil(4.0 * scale)))


def _coefficients(shifts: tuple[float, ...], sides: Sides,
                  variance: tuple[float, ...]) -> tuple[Array, Array, Array]:  # fmt: skip
    """(a, q, e): CUSUM j's increment is ``a_j z + q_j z^2 - e_j``."""
    a: list[float] = []
    q: list[float] = []
    e: list[float] = []
    for mu in shifts:
        for sign in ((1.0, -1.0) if sides == "both" else (1.0,) if sides == "up" else (-1.0,)):
            a.append(sign * mu)
            q.append(0.0)
            e.append(mu * mu / 2.0)
    for v in variance:
        a.append(0.0)
        q.append(0.5 * (1.0 - 1.0 / v))
        e.append(0.5 * math.log(v))
    return np.array(a), np.array(q), np.array(e)


class CUSUMCalibration:
    """The threshold of a CUSUM bank for an ERT, by simulation from a pool, a slice per step.

    Runs ``n_runs`` streams of ``horizon`` values drawn from ``pool`` (i.i.d., or the stationary
    bootstrap with ``mean_block`` > 1), each standardized by its own resampled reference of
    ``reference_size`` values (a pool with ties, i.i.d.: by the pool itself, with values from a
    per-run multinomial surrogate of its atoms; ``jitter``: noise added to standardized values),
    through the CUSUMs; it keeps each run's *records* (the times
    where its running maximum rises above 1), from which the time of the first alarm of any
    threshold follows. The fit is a bisection on the threshold, one evaluation per step. State
    is numpy arrays and ints: a job pickled between steps continues exactly.

    >>> pool = np.random.default_rng(1).normal(size=300)
    >>> job = CUSUMCalibration(pool, 300, (1.0,), "up", (), ert=500.0, n_runs=400,
    ...                        rng=np.random.default_rng(2))
    >>> while not job.step():
    ...     pass
    >>> 4.0 < job.result["threshold"] < 7.0, 450 < job.result["simulated_ert"] < 550
    (True, True)
    """

    def __init__(self, pool: Array, reference_size: int, shifts: tuple[float, ...],
                 sides: Sides, variance: tuple[float, ...], *, ert: float,
                 rng: np.random.Generator, n_runs: int | None = None,
                 mean_block: float = 1.0, ar: float | None = None,
                 cells: int = UPDATE_CELLS, jitter: float = 0.0) -> None:  # fmt: skip
        self.jitter = float(jitter)
        self.pool = np.ascontiguousarray(pool, dtype=np.float64)
        self.ar = ar  # the AR(1) coefficient of the Gaussian-copula sieve (None: resample)
        self._sorted = np.sort(self.pool)
        self._z = np.zeros(n_runs if n_runs is not None else 0)
        # a tie-free pool: the smoothed bootstrap (Silverman's bandwidth, variance kept), so
        # that simulated streams have tails beyond the reference's extremes, as real ones do
        sd = float(self.pool.std())
        tie_free = len(np.unique(self.pool)) == len(self.pool)
        self.bandwidth = 1.06 * sd * len(self.pool) ** -0.2 if tie_free and sd > 0 else 0.0
        self._centre = float(self.pool.mean())
        self._shrink = 1.0 / math.sqrt(1.0 + (self.bandwidth / sd) ** 2) if sd > 0 else 1.0
        self.n = reference_size
        self.ert = float(ert)
        self.rng = rng
        self.mean_block = float(mean_block)
        # a pool with ties (0/1 errors, counts), i.i.d.: every run standardizes by the live
        # reference (the pool) and draws its values from a per-run surrogate distribution, a
        # multinomial resample of the pool's atoms (see the module docstring)
        self.live = (not tie_free and ar is None and self.mean_block <= 1.0
                     and len(self.pool) == reference_size)  # fmt: skip
        self._atoms, counts = np.unique(self.pool, return_counts=True)
        self._p = counts / counts.sum()
        self._cum = np.zeros((0, 0), dtype=np.int64)
        self.a, self.q, self.e = _coefficients(shifts, sides, variance)
        self.horizon = max(50, math.ceil(self.ert / 2.0))
        self.burn_in = burn_in(self.a, self.q, self.e, self.horizon)
        if n_runs is None:
            n_runs = int(min(_MAX_RUNS, max(_MIN_RUNS,
                                            math.ceil(_TARGET_ALARMS * self.ert / self.horizon))))
        self.n_runs = n_runs
        self._z = np.zeros(n_runs)  # each run's last AR(1) state (the sieve)
        k = len(self.a)
        self.chunk = max(1, cells // (n_runs * (k + 4) + 2_000))
        self.t = 0  # values simulated per run so far
        self.steps = 0
        self.result: dict[str, Any] | None = None
        self.cells = cells
        self._ref_rows = 0  # runs whose reference is drawn
        self._mu = np.zeros(n_runs)
        self._inv = np.ones(n_runs)
        self._prev = np.zeros(n_runs, dtype=np.intp)  # each run's last index (block bootstrap)
        self._s = np.zeros((k, n_runs))
        self._max = np.full(n_runs, _FLOOR)
        if self.live:
            mu, inv = standardizer(self.pool[None, :])
            self._mu[:], self._inv[:] = mu[0], inv[0]
            self._cum = np.zeros((n_runs, len(self._atoms)), dtype=np.int64)
        self._rec: list[tuple[NDArray[np.intp], NDArray[np.intp], Array]] = []
        self._fit: dict[str, Any] | None = None
        self._pilot = 0.0
        self._hs = np.zeros(2)
        self._s2: Array | None = None  # stage 2 CUSUMs (2 thresholds, k, runs)
        self._t2 = 0
        self._alarms2 = np.zeros(2)

    @property
    def method(self) -> str:
        if self.ar is not None:
            return "AR(1) sieve"
        return "bootstrap" if self.mean_block <= 1.0 else "block bootstrap"

    @property
    def progress(self) -> float:
        return min(1.0, (self.t + 2 * self._t2) / (3 * self.horizon + 2 * self.burn_in))

    def _indices(self, t: int) -> NDArray[np.intp]:
        shape = (self.n_runs, t)
        if self.mean_block > 1.0:
            idx = stationary_indices(self.rng, len(self.pool), shape, self.mean_block,
                                     self._prev)  # fmt: skip
            self._prev = idx[:, -1].copy()
            return idx
        return self.rng.integers(0, len(self.pool), size=shape)

    def _sieve(self, shape: tuple[int, int],
               prev: Array | None) -> tuple[Array, Array]:  # fmt: skip
        """Values (runs, t) of the Gaussian-copula AR(1) with the pool's marginal; last Z."""
        assert self.ar is not None
        u, last = ar1_uniforms(self.rng, np.full(shape[0], self.ar), shape, prev)
        n = len(self._sorted)
        x = self._sorted[np.minimum((u * n).astype(np.intp), n - 1)]
        return self._smooth(x), last

    def _stream(self, c: int) -> Array:
        """The next ``c`` values of every run."""
        if self.live:  # draws from each run's surrogate: inverse of its cumulative counts
            n, a = len(self.pool), len(self._atoms)
            u = self.rng.integers(0, n, size=(self.n_runs, c))
            off = np.arange(self.n_runs)[:, None]
            pos = np.searchsorted((self._cum + off * n).ravel(), (u + off * n).ravel(),
                                  side="right").reshape(self.n_runs, c)  # fmt: skip
            return self._atoms[pos - off * a]
        if self.ar is not None:
            x, self._z = self._sieve((self.n_runs, c), self._z)
            return x
        return self._values(self._indices(c))

    def _values(self, idx: NDArray[np.intp]) -> Array:
        return self._smooth(self.pool[idx])

    def _smooth(self, x: Array) -> Array:
        if self.bandwidth > 0:
            x = x + self.bandwidth * self.rng.standard_normal(x.shape)
            x = self._centre + (x - self._centre) * self._shrink
        return x

    def step(self) -> bool:
        """One slice of work; True once the result is ready (then a no-op)."""
        if self.result is not None:
            return True
        self.steps += 1
        if self._ref_rows < self.n_runs:  # the runs' references, a slice of runs per step
            r0 = self._ref_rows
            r1 = min(self.n_runs, r0 + max(1, self.cells // (3 * self.n)))
            shape = (r1 - r0, self.n)
            if self.live:
                draws = self.rng.multinomial(len(self.pool), self._p, size=r1 - r0)
                self._cum[r0:r1] = np.cumsum(draws, axis=1)
                self._ref_rows = r1
                return False
            if self.ar is not None:
                x, self._z[r0:r1] = self._sieve(shape, None)
                self._mu[r0:r1], self._inv[r0:r1] = standardizer(x)
                self._ref_rows = r1
                return False
            if self.mean_block > 1.0:
                idx = stationary_indices(self.rng, len(self.pool), shape, self.mean_block)
                self._prev[r0:r1] = idx[:, -1]
            else:
                idx = self.rng.integers(0, len(self.pool), size=shape)
            self._mu[r0:r1], self._inv[r0:r1] = standardizer(self._values(idx))
            self._ref_rows = r1
        elif self.t < self.horizon:
            self._simulate(min(self.chunk, self.horizon - self.t))
        elif self._s2 is None:
            self._bisect()
        elif self._t2 < self.burn_in + self.horizon:
            self._restarts(min(max(1, self.chunk // 2),
                               self.burn_in + self.horizon - self._t2))  # fmt: skip
        else:
            self._finish()
        return self.result is not None

    def _standardized(self, c: int) -> Array:
        """The next ``c`` standardized values of every run (jittered as the detector's)."""
        z = (self._stream(c) - self._mu[:, None]) * self._inv[:, None]
        if self.jitter > 0:
            z += self.jitter * self.rng.standard_normal(z.shape)
        return z

    def _simulate(self, c: int) -> None:
        z = self._standardized(c)
        # increments (c, k, runs): time first, so that each step works on contiguous rows
        zt = np.ascontiguousarray(z.T)
        inc = zt[:, None, :] * self.a[None, :, None] - self.e[None, :, None]
        if np.any(self.q):
            inc += (zt * zt)[:, None, :] * self.q[None, :, None]
        s = self._s
        out = np.empty((c, self.n_runs))
        for j in range(c):
            s += inc[j]
            np.maximum(s, 0.0, out=s)
            np.max(s, axis=0, out=out[j])
        path = out.T
        # records: where a run's running maximum (from _FLOOR) rises
        run_max = np.maximum.accumulate(np.concatenate([self._max[:, None], path], axis=1),
                                        axis=1)  # fmt: skip
        rows, cols = np.nonzero(path > run_max[:, :-1])
        if rows.size:
            self._rec.append((rows.astype(np.intp), (self.t + cols + 1).astype(np.intp),
                              path[rows, cols]))  # fmt: skip
        self._max = run_max[:, -1].copy()
        self.t += c

    # -- fit ------------------------------------------------------------------------------
    def _first_alarms(self, h: float) -> NDArray[np.int64]:
        """Each run's first value (1-based) whose statistic exceeds ``h``; horizon + 1: none."""
        f = self._fit
        assert f is not None
        keys = f["key"]
        pos = np.searchsorted(keys, f["offset"] + h, side="right")
        inside = pos < f["ends"]
        out = np.full(self.n_runs, self.horizon + 1, dtype=np.int64)
        out[inside] = f["time"][pos[inside]]
        return out

    def _ert(self, h: float) -> float:
        first = self._first_alarms(h)
        alarms = int((first <= self.horizon).sum())
        watched = float(np.minimum(first, self.horizon).sum())
        return watched / max(alarms, 0.5)

    def _bisect(self) -> None:
        if self._fit is None:  # order the records by run, then time (values rise along a run)
            if self._rec:
                rows = np.concatenate([r[0] for r in self._rec])
                times = np.concatenate([r[1] for r in self._rec])
                vals = np.concatenate([r[2] for r in self._rec])
            else:
                rows = np.zeros(0, np.intp)
                times = np.zeros(0, np.intp)
                vals = np.zeros(0)
            order = np.argsort(rows, kind="stable")  # appended in time order per run
            rows, times, vals = rows[order], times[order], vals[order]
            top = float(vals.max()) if vals.size else _FLOOR
            span = top + 1.0
            self._fit = {
                "key": rows * span + vals, "time": times, "span": span,
                "offset": np.arange(self.n_runs) * span,
                "ends": np.searchsorted(rows, np.arange(self.n_runs), side="right"),
                "lo": _FLOOR, "hi": top, "iter": 0,
            }  # fmt: skip
            self._rec = []
            return
        f = self._fit
        if f["iter"] == 0 and self._ert(f["lo"]) >= self.ert:
            f["hi"] = f["lo"]  # even the floor reaches the ERT (a tiny ERT)
        if f["iter"] >= 60 or f["hi"] - f["lo"] < 1e-9:
            # the pilot: first alarms weigh references by how long they stay quiet, which
            # over-states the ERT when references differ; the restarts below correct it
            self._pilot = float(f["hi"])
            self._hs = np.array([self._pilot, self._pilot + _SPAN])
            self._s2 = np.zeros((2, len(self.a), self.n_runs))
            return
        mid = (f["lo"] + f["hi"]) / 2.0
        if self._ert(mid) >= self.ert:
            f["hi"] = mid
        else:
            f["lo"] = mid
        f["iter"] += 1

    def _restarts(self, c: int) -> None:
        """Stage 2: the detector itself (restart at 0 after each alarm) at two thresholds."""
        z = self._standardized(c)
        zt = np.ascontiguousarray(z.T)
        inc = zt[:, None, :] * self.a[None, :, None] - self.e[None, :, None]
        if np.any(self.q):
            inc += (zt * zt)[:, None, :] * self.q[None, :, None]
        s, hs = self._s2, self._hs[:, None]
        for j in range(c):
            s += inc[j]
            np.maximum(s, 0.0, out=s)
            hit = s.max(axis=1) > hs
            if hit.any():
                if self._t2 + j >= self.burn_in:  # counted once the renewal is stationary
                    self._alarms2 += hit.sum(axis=1)
                s *= ~hit[:, None, :]
        self._t2 += c

    def _finish(self) -> None:
        """Stage 3: the pilot curve (exact in its steps) times the restart correction."""
        f = self._fit
        assert f is not None
        if "c" not in f:
            events = float(self.n_runs * self.horizon)
            erts = events / np.maximum(self._alarms2, 0.5)
            first = np.array([self._ert(h) for h in self._hs])
            f["c"] = np.log(erts / first)  # log(restarts / first alarms) at both thresholds
            f["erts2"] = erts
            f["lo"], f["hi"], f["iter"] = _FLOOR, max(f["hi"], self._hs[1]), 0
            if self._corrected(f["lo"]) >= self.ert:
                f["hi"] = f["lo"]
            return
        for _ in range(8):
            if f["iter"] >= 60 or f["hi"] - f["lo"] < 1e-9:
                h = float(f["hi"])
                self.result = {
                    "method": self.method, "threshold": h, "ert": self.ert,
                    "simulated_ert": self._corrected(h),
                    "simulated": {"thresholds": self._hs.tolist(), "erts": f["erts2"].tolist(),
                                  "alarms": self._alarms2.tolist()},
                    "bandwidth": self.bandwidth, "pilot_threshold": self._pilot,
                    "n_simulations": self.n_runs, "horizon_events": self.horizon,
                    "burn_in": self.burn_in, "jitter": self.jitter,
                    "mean_block": self.mean_block, "ar1": self.ar, "steps": self.steps,
                    "reference": "live" if self.live else "resampled",
                }  # fmt: skip
                return
            mid = (f["lo"] + f["hi"]) / 2.0
            if self._corrected(mid) >= self.ert:
                f["hi"] = mid
            else:
                f["lo"] = mid
            f["iter"] += 1

    def _corrected(self, h: float) -> float:
        """The ERT of threshold ``h``: first alarms, corrected by the restart simulation."""
        f = self._fit
        assert f is not None
        w = min(1.0, max(0.0, (h - self._hs[0]) / _SPAN))
        return self._ert(h) * math.exp((1.0 - w) * f["c"][0] + w * f["c"][1])


class CUSUMDetector:
    """A bank of CUSUMs on one value stream, calibrated to an ERT (see the module docstring).

    Parameters: ``reference_size`` (values that estimate the pre-change mean and standard
    deviation), ``ert`` (or a fixed ``threshold``), ``shifts`` (mean shifts in reference
    standard deviations), ``sides`` (``"both"``, ``"up"``, ``"down"``), ``variance`` (variance
    ratios watched; ``()`` for none), ``dependence`` (``"auto"``, ``"none"``, ``"ar1"``,
    ``"block"``) and
    ``block_size`` (the bootstrap's mean block length; None: from the reference's lag-1
    autocorrelation), ``n_simulations`` (runs of the calibration; None: enough for ~800
    simulated alarms), ``field`` (the name in alarms), ``seed``.
    """

    name = "cusum"
    reference = "fixed"
    check_every = 1

    def __init__(self, *, reference_size: int = 500, ert: float | None = 10_000.0,
                 threshold: float | None = None,
                 shifts: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), sides: Sides = "both",
                 variance: tuple[float, ...] = (2.0, 4.0), dependence: Dependence = "auto",
                 block_size: int | None = None, n_simulations: int | None = None,
                 field: str | None = None, seed: int | None = None) -> None:  # fmt: skip
        if reference_size < 2:
            raise ConfigError("reference_size must be at least 2")
        if threshold is None and (ert is None or ert <= 1):
            raise ConfigError("give either ert (> 1, calibrated threshold) or threshold")
        if not shifts and not variance:
            raise ConfigError("a CUSUM needs at least one shift or variance ratio")
        if any(s <= 0 for s in shifts) or any(v <= 1 for v in variance):
            raise ConfigError("shifts must be > 0 and variance ratios > 1")
        if sides not in ("both", "up", "down"):
            raise ConfigError(f"sides must be 'both', 'up' or 'down', not {sides!r}")
        if dependence not in ("auto", "none", "ar1", "block"):
            raise ConfigError(f"dependence must be 'auto', 'none', 'ar1' or 'block', "
                              f"not {dependence!r}")  # fmt: skip
        self.reference_size = reference_size
        self.ert = ert
        self.shifts = tuple(float(s) for s in shifts)
        self.sides: Sides = sides
        self.variance = tuple(float(v) for v in variance)
        self.dependence: Dependence = dependence
        self.block_size = block_size
        self.n_simulations = n_simulations
        self.field = field
        self.seed = DEFAULT_SEED if seed is None else seed
        self._fixed_threshold = threshold
        self._rng = np.random.default_rng(self.seed)
        self._noise = random.Random(f"cusum-jitter/{self.seed}")  # the jitter's own stream
        a, q, e = _coefficients(self.shifts, sides, self.variance)
        self._coef = list(zip(a.tolist(), q.tolist(), e.tolist(), strict=True))
        self._quad = bool(np.any(q))
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (reference included); keep the configuration and the rng."""
        self.drift_detected = False
        self.n_events = 0
        self.n_checks = 0
        self.n_alarms = 0
        self.n_skipped = 0
        fixed = self._fixed_threshold
        self.threshold = math.inf if fixed is None else float(fixed)
        self.calibration: dict[str, Any] = {}
        self._job: CUSUMCalibration | None = None
        self._ref: list[float] = []
        self._ref_start = 0
        self._mu = 0.0
        self._inv = 1.0
        self._jitter = 0.0
        self._lo, self._hi = -math.inf, math.inf  # the clip of a reference with ties
        self._restart()
        self._last_stat = 0.0
        self._last_j = 0
        self._alarm_start = 0

    def _restart(self) -> None:
        self._s = [0.0] * len(self._coef)
        self._since = [self.n_events] * len(self._coef)

    def reset_reference(self, values: Any = None) -> None:
        """Take a new reference: the next ``reference_size`` values, or ``values`` given now."""
        self.drift_detected = False
        self._job = None
        self._restart()
        self._ref = []
        if values is not None:
            arr = np.asarray(values, dtype=np.float64).ravel()
            if arr.shape != (self.reference_size,):
                raise ConfigError(f"reference of {arr.size} values, expected "
                                  f"{self.reference_size}")  # fmt: skip
            self._ref = arr.tolist()
            self._ref_start = self.n_events
            self._reference_complete()

    # -- the hot path ----------------------------------------------------------------------
    def update(self, value: Any) -> None:
        """Take one value (a number; a non-finite one is skipped and counted in ``n_skipped``)."""
        self.drift_detected = False
        x = float(value)
        if not math.isfinite(x):
            self.n_skipped += 1
            return
        self.n_events += 1
        if self._job is not None:
            self._advance_job()
        ref = self._ref
        if len(ref) < self.reference_size:
            ref.append(x)
            if len(ref) == self.reference_size:
                self._ref_start = self.n_events - self.reference_size
                self._reference_complete()
            return
        z = (min(max(x, self._lo), self._hi) - self._mu) * self._inv
        if self._jitter:
            z += self._jitter * self._noise.gauss(0.0, 1.0)
        z2 = z * z
        s, since, n = self._s, self._since, self.n_events
        best, arg = 0.0, 0
        for j, (a, q, e) in enumerate(self._coef):
            v = s[j] + a * z + q * z2 - e
            if v > 0.0:
                s[j] = v
                if v > best:
                    best, arg = v, j
            else:
                s[j] = 0.0
                since[j] = n
        self.n_checks += 1
        self._last_stat = best
        self._last_j = arg
        if best > self.threshold:
            self.drift_detected = True
            self.n_alarms += 1
            self._alarm_start = since[arg]
            self._restart()

    # -- calibration ---------------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        """Whether the threshold in use is the final one."""
        return self.calibration.get("status") == "calibrated"

    def _reference_complete(self) -> None:
        ref = np.asarray(self._ref)
        mu, inv = standardizer(ref[None, :])
        self._mu, self._inv = float(mu[0]), float(inv[0])
        self._jitter = 0.0
        self._lo, self._hi = -math.inf, math.inf
        since = self.n_events
        if self._fixed_threshold is not None:
            self.calibration = {"method": "fixed", "threshold": self.threshold,
                                "status": "calibrated", "since": since}  # fmt: skip
            return
        assert self.ert is not None
        r = float(lag1(ref[None, :])[0])
        dependent = self.dependence in ("ar1", "block") or (
            self.dependence == "auto" and serially_correlated(ref[None, :]))  # fmt: skip
        block, ar = 1.0, None
        if dependent and self.dependence == "block":
            block = float(self.block_size or block_length(self.reference_size, r))
        elif dependent:
            ar = float(ar1_coefficient(ref[None, :])[0])
        if len(np.unique(ref)) < len(ref):  # ties: the live design's clip and jitter
            self._jitter = JITTER
            self._lo, self._hi = float(ref.min()), float(ref.max())
        self._job = CUSUMCalibration(ref, self.reference_size, self.shifts, self.sides,
                                     self.variance, ert=self.ert, rng=self._rng,
                                     n_runs=self.n_simulations, mean_block=block,
                                     ar=ar, jitter=self._jitter)  # fmt: skip
        self.threshold = math.inf
        self.calibration = {"method": self._job.method,
                            "status": "interim", "since": since, "threshold": math.inf,
                            "ert": self.ert, "interim": "none: no alarm until calibrated",
                            "lag1": r, "progress": 0.0}  # fmt: skip

    def _advance_job(self) -> None:
        job = self._job
        assert job is not None
        if not job.step():
            self.calibration["progress"] = job.progress
            return
        self._job = None
        assert job.result is not None
        self.threshold = job.result["threshold"]
        self._restart()  # as calibrated: from 0 (not the level reached with no threshold)
        self.calibration = {**job.result, "status": "calibrated", "since": self.n_events,
                            "lag1": self.calibration.get("lag1"),
                            "interim": self.calibration.get("interim"),
                            "interim_since": self.calibration.get("since")}  # fmt: skip

    @property
    def state(self) -> DriftCheck | None:
        """The last value's check (largest CUSUM, threshold, estimated change point)."""
        if self.n_checks == 0:
            return None
        n = self.n_events
        start = self._alarm_start if self.drift_detected else self._since[self._last_j]
        return DriftCheck(self.name, self.field, self._last_stat, self.threshold,
                          self.drift_detected, n, start, n, self._ref_start,
                          self._ref_start + self.reference_size, None,
                          tuple(self._s) if not self.drift_detected else ())  # fmt: skip
