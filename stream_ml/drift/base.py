"""The windowed two-sample detector: ring buffers, reference policy, check schedule, alarms.

A subclass supplies three things: how to prepare a reference (:meth:`_prepare`), the vectorized
statistic of a window against it (:meth:`_statistics`, one value per monitored column) and a
simulator of that statistic on stationary streams (:meth:`_segments`, used by calibration).

Per event, :meth:`WindowedDetector.update` appends the value to a list: O(1), no numpy call.
Every ``check_every`` events (once the window is full) the values since the last check are
written into a preallocated ring buffer in one block (and, for the rank detectors, coded against
the fixed reference once: :class:`~stream_ml.drift.ranks.ReferenceIndex`), then the statistic
is computed for all columns at once and its maximum is compared with the calibrated threshold.
The reference fills the same way: one block when it is complete. A value that is not a number
(or not ``n_features`` numbers) raises ``ValueError`` at that block, from the ``update`` that
completes it; it is dropped and not counted in the window (as a single failed write was).
After an alarm the current window is emptied (the reference is kept), so the next alarm needs a
whole new window: run lengths between false alarms are renewals, which is what calibration
simulates.

Event indices (``n_events``, window bounds) count the values given to ``update`` since the
detector was built or :meth:`~WindowedDetector.reset`: the window ``[start, end)`` holds the
values number ``start`` to ``end - 1`` (0-based).

Calibration never blocks a call. A distribution-free threshold (rank statistics, "uniform") is
a pure function of the configuration, looked up when the detector is built
(:mod:`stream_ml.drift.thresholds`). A data-dependent one (a bootstrap of the reference) runs as
a :class:`~stream_ml.drift.jobs.CalibrationJob`, one bounded step per ``update`` once the
reference is complete; until it is done the detector uses a stated conservative *interim*
threshold (:meth:`_interim`). ``calibration["status"]`` says which ("interim" or
"calibrated") and ``calibration["since"]`` from which event.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift.dependence import Dependence
from stream_ml.drift.jobs import STEP_BUDGET, CalibrationJob
from stream_ml.drift.seeding import DEFAULT_SEED
from stream_ml.drift.segments import Segments
from stream_ml.errors import ConfigError

__all__ = ["DriftCheck", "WindowedDetector"]

ReferencePolicy = Literal["fixed", "lagged"]
#: work of a running calibration job per update, in array cells (about 1 ms): steps are done
#: while their estimated cost fits, and at least one
UPDATE_BUDGET = 4 * STEP_BUDGET


@dataclasses.dataclass(slots=True, frozen=True)
class DriftCheck:
    """The outcome of one check (the alarm payload when ``drift`` is true).

    ``statistic`` is the largest statistic over the monitored columns, ``field`` the column that
    gave it; ``statistics`` holds every column's value. ``p_value`` is the fixed-sample p-value
    of that column's test (scipy's), computed for alarms only; it is not what the threshold is
    calibrated on. Window bounds are event indices ``[start, end)``.
    """

    detector: str
    field: str | None
    statistic: float
    threshold: float
    drift: bool
    n_events: int
    window_start: int
    window_end: int
    reference_start: int
    reference_end: int
    p_value: float | None = None
    statistics: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class WindowedDetector:
    """Base class of the windowed two-sample detectors (see the module docstring)."""

    name = "windowed"
    _rank_based = False
    #: compute an alarm's p-value only when :meth:`alarm_p_value` asks (the monitor sets it:
    #: the alarms an episode absorbs need none, and an exact KS p-value costs ~1 ms)
    lazy_p_value = False

    def __init__(
        self,
        *,
        n_features: int = 1,
        reference_size: int = 500,
        window_size: int = 200,
        check_every: int = 20,
        ert: float | None = 10_000.0,
        threshold: float | None = None,
        reference: ReferencePolicy = "fixed",
        lag: int = 0,
        calibration: cal.Method = "auto",
        n_simulations: int | None = None,
        fields: tuple[str, ...] | None = None,
        seed: int | None = None,
        dependence: Dependence = "none",
        block_size: int | None = None,
    ) -> None:
        if min(n_features, reference_size, window_size, check_every) < 1 or lag < 0:
            raise ConfigError("sizes must be positive (lag non-negative)")
        if reference_size < 2 or window_size < 2:
            raise ConfigError("reference_size and window_size must be at least 2")
        if threshold is None and ert is None:
            raise ConfigError("give either ert (calibrated threshold) or threshold")
        if fields is not None and len(fields) != n_features:
            raise ConfigError(f"{len(fields)} field names for {n_features} features")
        if reference not in ("fixed", "lagged"):
            raise ConfigError(f"unknown reference policy {reference!r}")
        if dependence not in ("auto", "none", "ar1", "block", "ess"):
            raise ConfigError(f"dependence must be 'auto', 'none', 'ar1', 'block' or 'ess', "
                              f"not {dependence!r}")  # fmt: skip
        if block_size is not None and block_size < 1:
            raise ConfigError("block_size must be at least 1")
        self.n_features = n_features
        self.reference_size = reference_size
        self.window_size = window_size
        self.check_every = check_every
        self.ert = ert
        self.reference = reference
        self.lag = lag
        self.calibration_method: cal.Method = calibration
        self.n_simulations = n_simulations
        self.fields = fields
        self.dependence: Dependence = dependence
        self.block_size = block_size
        self.seed = DEFAULT_SEED if seed is None else seed  # never OS entropy
        self._fixed_threshold = threshold
        self._rng = np.random.default_rng(self.seed)
        if reference == "fixed":
            self._warmup = window_size
            self._cap = window_size
        else:
            self._warmup = reference_size + lag + window_size
            self._cap = self._warmup
        if ert is not None and threshold is None and ert <= self._warmup:
            raise ConfigError(f"ert={ert} must exceed the {self._warmup} events a check needs")
        if calibration == "uniform" and not self._rank_based:
            raise ConfigError(f"{self.name}: calibration='uniform' needs a rank statistic")
        self._uniform = None if threshold is not None else self._uniform_report()
        self._encoding = type(self)._encode is not WindowedDetector._encode
        self._alloc()
        self.reset()

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a detector pickled before values were batched wrote each value at once: none pending
        self.__dict__.update(state)
        if "_pending" not in state:
            self._pending = []
            self._encoding = type(self)._encode is not WindowedDetector._encode
            self._loaded_unbatched()

    def _loaded_unbatched(self) -> None:
        """After unpickling a detector from before batching (subclasses rebuild caches)."""

    # -- buffers -------------------------------------------------------------------------
    def _alloc(self) -> None:
        self._ref = np.zeros((self.n_features, self.reference_size))
        self._buf = np.zeros((self.n_features, self._cap))

    def reset(self) -> None:
        """Forget everything seen (reference included); keep the configuration and the rng."""
        self.drift_detected = False
        self.n_events = 0
        fixed = self._fixed_threshold
        self.threshold = float("inf") if fixed is None else float(fixed)
        self.calibration: dict[str, Any] = {}
        self._job: CalibrationJob | None = None
        self._ref_fill = 0 if self.reference == "fixed" else self.reference_size
        self._ref_start = 0
        self._prepared: Any = None
        self._restart()
        self._last: DriftCheck | None = None
        self.n_checks = 0
        self.n_alarms = 0

    def _restart(self) -> None:
        self._count = 0
        self._pos = 0
        self._next_check = self._warmup
        self._pending: list[Any] = []

    def reset_reference(self, values: ArrayLike | None = None) -> None:
        """Take a new reference: the next ``reference_size`` values, or ``values`` given now.

        ``values`` is (reference_size,) or (reference_size, n_features). Call it after a retrain
        or a rollback. With the lagged policy the reference is always the lagged window; this
        only restarts the detector.
        """
        self.drift_detected = False
        self._restart()
        if self.reference == "lagged":
            return
        self._job = None  # a calibration of the old reference is of no use
        if values is None:
            self._ref_fill = 0
            return
        arr = self._as_rows(values)
        if arr.shape != (self.n_features, self.reference_size):
            raise ConfigError(
                f"reference of shape {arr.shape[::-1]}, expected "
                f"({self.reference_size}, {self.n_features})"
            )
        self._ref[:] = arr
        self._pending = []
        self._ref_fill = self.reference_size
        self._ref_start = self.n_events
        self._reference_complete()

    def _as_rows(self, values: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None] if self.n_features == 1 else arr[None, :]
        return np.ascontiguousarray(arr.T)

    # -- the hot path --------------------------------------------------------------------
    def update(self, value: Any) -> None:
        """Take one value (a number, or a sequence of ``n_features`` numbers).

        O(1): the value is kept in a list, written to the buffers as a block when the
        reference completes or at the next check; plus a bounded slice of a running
        calibration job (about a millisecond).
        """
        self.drift_detected = False
        self.n_events += 1
        if self._job is not None:
            self._advance_job()
        if self._encoding:
            value = self._encode(value)
        self._pending.append(value)
        if self._ref_fill < self.reference_size:
            self._ref_fill += 1
            if self._ref_fill == self.reference_size:
                self._fill_reference()
            return
        self._count += 1
        if self._count == self._next_check:
            self._flush()
            self._next_check += self.check_every
            self._check()

    def _encode(self, value: Any) -> Any:
        return value

    def _block(self) -> tuple[NDArray[np.float64], tuple[Any, Exception] | None]:
        """The pending values as (n_features, k) and the first bad one (or None); empties the list.

        Bad values (see the module docstring) are left out of the block.
        """
        pending, d = self._pending, self.n_features
        self._pending = []
        k = len(pending)
        try:
            arr = np.asarray(pending, dtype=np.float64)
            if arr.shape == (k, d) or (d == 1 and arr.shape == (k,)):
                return np.ascontiguousarray(arr.reshape(k, d).T), None
        except (TypeError, ValueError):
            pass
        # value by value, as one write per update did (a number fills every column)
        out = np.empty((d, k))
        j, bad = 0, None
        for v in pending:
            try:
                out[:, j] = v
                j += 1
            except (TypeError, ValueError) as e:
                bad = bad or (v, e)
        return out[:, :j], bad

    def _fill_reference(self) -> None:
        block, bad = self._block()
        if bad is not None:  # the good values stay pending, the bad ones are not counted
            self._ref_fill = block.shape[1]
            self._pending = list(block.T.copy()) if self.n_features > 1 else block[0].tolist()
            raise self._bad_value(bad)
        self._ref[:] = block
        self._ref_start = self.n_events - self.reference_size
        self._reference_complete()

    def _flush(self) -> None:
        """Write the pending values into the window's ring buffer (oldest overwritten)."""
        if not self._pending:
            return
        k = len(self._pending)
        block, bad = self._block()
        self._write(block)
        if bad is not None:
            self._count -= k - block.shape[1]
            raise self._bad_value(bad)

    def _bad_value(self, bad: tuple[Any, Exception]) -> ValueError:
        err = ValueError(f"{self.name}: not {self.n_features} number(s): {bad[0]!r}")
        err.__cause__ = bad[1]
        return err

    def _write(self, block: NDArray[np.float64]) -> None:
        cap = self._cap
        k = block.shape[1]
        if k == 0:
            return
        start = self._pos
        if k > cap:  # only the last cap values stay
            start = (start + k - cap) % cap
            block = block[:, -cap:]
            k = cap
        end = start + k
        if end <= cap:
            self._buf[:, start:end] = block
            self._written(start, block)
        else:
            cut = cap - start
            self._buf[:, start:] = block[:, :cut]
            self._buf[:, : end - cap] = block[:, cut:]
            self._written(start, block[:, :cut])
            self._written(0, block[:, cut:])
        self._pos = end % cap

    def _written(self, start: int, block: NDArray[np.float64]) -> None:
        """Hook: ``block`` was written at ring positions ``start ..`` (subclasses code it)."""

    # -- checks --------------------------------------------------------------------------
    def _windows(self) -> tuple[Any, NDArray[np.float64], int]:
        """(prepared reference, window (d, m), reference start event)."""
        m = self.window_size
        if self.reference == "fixed":
            if self._count >= m:
                return self._prepared, self._buf, self._ref_start
            # never reached: checks start when the window is full
            raise RuntimeError("window not full")  # pragma: no cover
        idx = (self._pos + np.arange(self._cap)) % self._cap  # oldest first
        ordered = self._buf[:, idx]
        ref = ordered[:, : self.reference_size]
        start = self.n_events - self._cap
        if not self.calibration:
            self._calibrate(ref)
        return self._prepare(ref), ordered[:, -m:], start

    def _check(self) -> None:
        prepared, win, ref_start = self._windows()
        stats = self._window_statistics(prepared, win)
        i = int(np.argmax(stats))
        stat = float(stats[i])
        drift = stat > self.threshold
        self.n_checks += 1
        end = self.n_events
        field = self._field(i, len(stats))
        p_value = None
        self._alarm_windows: tuple[Any, NDArray[np.float64], int] | None = None
        if drift:
            if self.lazy_p_value:  # kept for alarm_p_value (a monitor asks for its alerts only)
                self._alarm_windows = (prepared, win, i)
            else:
                p_value = self._p_value(prepared, win, i)
        self._last = DriftCheck(
            self.name, field, stat, self.threshold, drift, end, end - self.window_size, end,
            ref_start, ref_start + self.reference_size, p_value, tuple(stats.tolist()),
        )  # fmt: skip
        if drift:
            self.drift_detected = True
            self.n_alarms += 1
            self._restart()

    def _field(self, i: int, n_stats: int) -> str | None:
        if n_stats != self.n_features:
            return None
        if self.fields:
            return self.fields[i]
        return None if self.n_features == 1 else str(i)

    def alarm_p_value(self) -> float | None:
        """The p-value of the last check if it raised an alarm (computed now if it is lazy).

        With ``lazy_p_value`` an alarm's p-value is not computed at the check; call this right
        after the ``update`` that raised the alarm (the window is still in the buffers).
        """
        check = self._last
        if check is None or not check.drift:
            return None
        if check.p_value is None:
            windows = getattr(self, "_alarm_windows", None)
            if windows is None:
                return None
            self._alarm_windows = None
            check = dataclasses.replace(check, p_value=self._p_value(*windows))
            self._last = check
        return check.p_value

    @property
    def state(self) -> DriftCheck | None:
        """The last check (statistic, threshold, window bounds), or None before the first."""
        return self._last

    # -- calibration ---------------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        """Whether the threshold in use is the final one (not an interim one, nor none yet)."""
        return self.calibration.get("status") == "calibrated"

    def _spec(self) -> cal.Spec:
        assert self.ert is not None
        return cal.Spec(
            statistic=self.name, n_features=self.n_features, reference_size=self.reference_size,
            window_size=self.window_size, check_every=self.check_every, ert=float(self.ert),
            reference=self.reference, lag=self.lag, n_simulations=self.n_simulations,
        )  # fmt: skip

    def _reference_complete(self) -> None:
        self._prepared = self._prepare(self._ref)
        self._calibrate(self._ref)

    def _calibrate(self, pool: NDArray[np.float64]) -> None:
        """Calibrate on ``pool`` (the reference): at once if distribution-free, else a job."""
        self._job = None
        since = self.n_events
        if self._fixed_threshold is not None:
            self.calibration = {"method": "fixed", "threshold": self.threshold,
                                "status": "calibrated", "since": since}  # fmt: skip
            return
        method = self._method(pool)
        if method == "uniform":
            assert self._uniform is not None
            self.threshold = self._uniform["threshold"]
            self.calibration = {**self._uniform, "status": "calibrated", "since": since,
                                **self._report(pool)}  # fmt: skip
            return
        spec = self._spec()
        interim, rule = self._interim(spec, pool)
        self._job = CalibrationJob(spec, self._segments(spec, pool), self._rng, method=method)
        self.threshold = interim
        self.calibration = {"method": method, "status": "interim", "since": since,
                            "threshold": interim, "ert": spec.ert, "interim": rule,
                            "progress": 0.0, **self._report(pool)}  # fmt: skip

    def _advance_job(self) -> None:
        job = self._job
        assert job is not None
        spent, done = 0, False
        while not done:
            spent += job.step_cost
            done = job.step()
            if spent + job.step_cost > UPDATE_BUDGET:
                break
        if not done:
            self.calibration["progress"] = job.progress
            return
        self._job = None
        assert job.result is not None
        interim = {"interim": self.calibration["interim"],
                   "interim_threshold": self.calibration["threshold"],
                   "interim_since": self.calibration["since"], "steps": job.steps}  # fmt: skip
        self.threshold = job.result["threshold"]
        extra = {k: self.calibration[k] for k in ("dependence",) if k in self.calibration}
        self.calibration = {**job.result, "status": "calibrated", "since": self.n_events,
                            **interim, **extra}  # fmt: skip

    def _method(self, pool: NDArray[np.float64]) -> str:
        """The calibration to run on this reference: "uniform" or "bootstrap"."""
        return "bootstrap" if self.calibration_method == "auto" else self.calibration_method

    def _report(self, pool: NDArray[np.float64]) -> dict[str, Any]:
        """Extra entries of the calibration report of a job on ``pool`` (subclasses)."""
        return {}

    def _interim(self, spec: cal.Spec, pool: NDArray[np.float64]) -> tuple[float, str]:
        """The threshold used while a bootstrap runs, and why it is conservative."""
        return float("inf"), "none: no alarm until the bootstrap is done"

    def _uniform_report(self) -> dict[str, Any] | None:
        """The distribution-free calibration (rank statistics), or None."""
        return None

    # -- for subclasses ------------------------------------------------------------------
    def _prepare(self, ref: NDArray[np.float64]) -> Any:
        return ref

    def _statistics(self, prepared: Any, win: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _window_statistics(self, prepared: Any, win: NDArray[np.float64]) -> NDArray[np.float64]:
        """The statistics of the current window at a check (subclasses may use cached codes)."""
        return self._statistics(prepared, win)

    def _p_value(self, prepared: Any, win: NDArray[np.float64], i: int) -> float | None:
        return None

    def _segments(self, spec: cal.Spec, pool: NDArray[np.float64]) -> Segments:
        """The simulator of this statistic on stationary streams drawn from ``pool``."""
        raise NotImplementedError
