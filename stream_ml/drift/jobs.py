"""A calibration as a resumable job: a bounded slice of work per step, state that pickles.

:class:`CalibrationJob` runs the simulation of :mod:`stream_ml.drift.calibration` (stationary
runs of the detector, then the threshold whose mean run length reaches the ERT) as a state
machine. Each :meth:`~CalibrationJob.step` does at most about ``budget`` array cells of work:
one batch's references, or one segment of checks of a batch
(:class:`~stream_ml.drift.segments.Segments`), or a slice of the fit (the renewal replay of
:func:`~stream_ml.drift.calibration.mean_run_length` over a block of checks for one candidate
threshold of a bisection). Nothing depends on wall time: the sizes of the slices are a function
of the spec and the budget, so a job is deterministic from its generator, and a job pickled
between two steps continues exactly like an uninterrupted one.

The fit finds the same threshold as :func:`~stream_ml.drift.calibration.threshold_for_ert`
(the smallest simulated statistic whose mean run length reaches the ERT) by bisection between
simulated values, with no sort of the simulated statistics.

>>> import numpy as np
>>> from stream_ml.drift.calibration import Spec, threshold_for_ert
>>> from stream_ml.drift.rank_segments import RankSegments
>>> spec = Spec("ks", 1, 50, 20, 5, ert=300.0, n_simulations=40)
>>> job = CalibrationJob(spec, RankSegments(spec, "ks"), np.random.default_rng(0), budget=20_000)
>>> while not job.step():
...     pass
>>> job.result["threshold"] == threshold_for_ert(job.stats, 300.0, 20, 5), job.steps > 10
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift.calibration import Spec, horizon, n_runs, per_check_probability
from stream_ml.drift.segments import Segments

__all__ = ["STEP_BUDGET", "CalibrationJob", "run_to_completion"]

Array = NDArray[np.float64]

#: array cells of work per step (a fraction of a millisecond): small blocks also stay in cache,
#: so a job run to completion at once uses the same steps (and gives the same result)
STEP_BUDGET = 48_000


class _Replay:
    """:func:`~stream_ml.drift.calibration.mean_run_length` for one threshold, block by block.

    It also finds the simulated values next to the threshold: ``below`` (the largest <= c)
    and ``above`` (the smallest > c).
    """

    __slots__ = ("above", "alarms", "below", "c", "j", "ready")

    def __init__(self, n_runs: int, c: float) -> None:
        self.c = c
        self.ready = np.zeros(n_runs, dtype=np.int64)
        self.alarms = 0
        self.j = 0  # the next check to replay
        self.below = -np.inf
        self.above = np.inf

    def feed(self, block: Array, gap: int) -> None:
        above = block > self.c
        hi = block[above]
        if hi.size:
            self.above = min(self.above, float(hi.min()))
        lo = block[~above]
        if lo.size:
            self.below = max(self.below, float(lo.max()))
        for jj in np.flatnonzero(above.any(axis=0)):
            j = self.j + int(jj)
            hit = above[:, jj] & (self.ready <= j)
            if hit.any():
                self.alarms += int(hit.sum())
                self.ready[hit] = j + gap
        self.j += block.shape[1]


class CalibrationJob:
    """A calibration of ``spec`` by simulation with ``segments``, a slice per :meth:`step`."""

    def __init__(self, spec: Spec, segments: Segments, rng: np.random.Generator, *,
                 budget: int = STEP_BUDGET, method: str = "bootstrap") -> None:  # fmt: skip
        self.spec = spec
        self.segments = segments
        self.rng = rng
        self.method = method
        self.budget = budget
        self.n_checks = horizon(spec)
        self.n_runs = n_runs(spec, self.n_checks)
        cost = segments.cost
        per_seg = max(1, min(self.n_checks, -(-segments.memory // spec.check_every)))
        per_seg = max(1, min(per_seg, budget // cost))
        self.checks_per_step = per_seg
        self.runs_per_batch = max(1, min(self.n_runs, budget // (cost * per_seg)))
        self.cols_per_step = max(1, budget // (4 * self.n_runs))
        self.stats = np.empty((self.n_runs, self.n_checks))
        self.steps = 0
        self.result: dict[str, Any] | None = None
        self._lo = 0  # first run of the current batch
        self._j = 0  # checks of the current batch done
        self._batch: dict[str, Any] | None = None
        self._bounds = (np.inf, -np.inf)  # min and max of the simulated statistics
        self._bracket: tuple[float, float] | None = None
        self._replay: _Replay | None = None
        self._answer_ert: float | None = None  # the mean run length at the bracket's top

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def simulated(self) -> bool:
        """Whether every run is simulated (``stats`` is complete; the fit may remain)."""
        return self._lo >= self.n_runs

    @property
    def progress(self) -> float:
        """The share of the simulation done (the fit is a few more steps)."""
        runs = self._lo + (self._j / self.n_checks if self._batch is not None else 0.0)
        return min(1.0, runs / self.n_runs)

    @property
    def step_cost(self) -> int:
        """The estimated work of the next step, in cells (a caller can bound work per call)."""
        if self.simulated:
            return self.budget
        return min(self.budget, self.segments.cost * self.runs_per_batch *
                   self.checks_per_step) + self.segments.overhead  # fmt: skip

    def step(self) -> bool:
        """Do one slice of work; True once the result is ready (then a no-op)."""
        if self.result is not None:
            return True
        self.steps += 1
        if self._lo < self.n_runs:
            self._simulate()
        else:
            self._fit()
        return self.result is not None

    # -- simulation ----------------------------------------------------------------------
    def _simulate(self) -> None:
        b = min(self.runs_per_batch, self.n_runs - self._lo)
        if self._batch is None:
            self._batch = self.segments.start(b, self.rng)
            return
        c = min(self.checks_per_step, self.n_checks - self._j)
        out = self.segments.advance(self._batch, self._j, c, self.rng)
        self.stats[self._lo : self._lo + b, self._j : self._j + c] = out
        lo, hi = self._bounds
        self._bounds = (min(lo, float(out.min())), max(hi, float(out.max())))
        self._j += c
        if self._j == self.n_checks:
            self._lo += b
            self._j = 0
            self._batch = None

    # -- fit: bisection on the simulated values, one block of replay per step ---------------
    def _fit(self) -> None:
        # The answer (the smallest simulated value whose mean run length reaches the ERT) lies
        # in [lo, hi], both simulated values: every value below lo falls short, hi reaches it.
        # A replay at c between them also finds the simulated values next to c, so each
        # round leaves the bracket with simulated values at its ends, and it closes exactly.
        if self._bracket is None:
            self._bracket = self._bounds
            self._replay = _Replay(self.n_runs, sum(self._bounds) / 2.0)
            return
        replay = self._replay
        assert replay is not None
        j1 = min(self.n_checks, replay.j + self.cols_per_step)
        replay.feed(self.stats[:, replay.j : j1], -(-self.spec.warmup // self.spec.check_every))
        if replay.j < self.n_checks:
            return
        spec = self.spec
        events = self.n_runs * (spec.warmup + (self.n_checks - 1) * spec.check_every)
        mrl = events / max(replay.alarms, 0.5)
        lo, hi = self._bracket
        if mrl >= spec.ert:
            hi, self._answer_ert = replay.below, mrl
        else:
            lo = replay.above
        if lo >= hi:
            if self._answer_ert is None:  # hi is the maximum: nothing above it alarms
                self._answer_ert = events / 0.5
            self._finish(hi, self._answer_ert)
            return
        self._bracket = (lo, hi)
        self._replay = _Replay(self.n_runs, (lo + hi) / 2.0)

    def _finish(self, threshold: float, simulated_ert: float) -> None:
        spec = self.spec
        self.result = {
            "method": self.method,
            "threshold": threshold,
            "ert": spec.ert,
            "per_check_probability": per_check_probability(spec),
            "n_simulations": self.n_runs,
            "horizon_events": spec.warmup + (self.n_checks - 1) * spec.check_every,
            "simulated_ert": simulated_ert,
            "combine": f"max over {spec.n_features} columns",
        }


def run_to_completion(job: CalibrationJob) -> dict[str, Any]:
    """Step ``job`` until it is done; its result."""
    while not job.step():
        pass
    assert job.result is not None
    return job.result
