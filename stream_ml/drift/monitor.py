"""FeatureDriftMonitor: watches named fields of event dicts and emits one alert per shift.

Numeric fields are monitored together by one vectorized detector (KS, CvM or MMD over
``len(fields)`` columns, the threshold calibrated on the maximum over columns). A row in which a
monitored field is missing, not a number, or not finite is skipped and counted (per field) in
``skipped``. Categorical detectors (chi2, PSI) and River's error detectors run one per field;
calibrated ones get ``ert * len(fields)`` each, so that the union of the fields' alarms keeps
the stated ERT (a Bonferroni correction on alarm rates).

After an alarm of a detector, its alarms are muted for ``cooldown`` observations (default: the
detector's ERT, or 10 windows), so that one persistent shift raises one alert, not one per
window. With ``refresh_on_alarm`` the detector takes the next values as its new reference.

Seeds: the monitor derives one seed per detector from its ``seed`` (the engine passes one
derived from its own seed and the monitor's index) and the fields that detector watches
(:func:`~stream_ml.drift.seeding.derive_seed`); a detector config's own ``seed`` overrides it.
Without either, the seed is :data:`~stream_ml.drift.seeding.DEFAULT_SEED`, never OS entropy,
so two runs of one configuration give the same thresholds and the same alerts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from stream_ml.drift.base import DriftCheck
from stream_ml.drift.seeding import SeedLike, derive_seed
from stream_ml.errors import ConfigError

__all__ = ["DriftAlert", "FeatureDriftMonitor"]


@dataclasses.dataclass(slots=True, frozen=True)
class DriftAlert:
    """An alarm: which detector and field, the statistic and threshold, where and when.

    Window bounds count the values the detector took (``[start, end)``); ``event`` is the index
    of the observation (0-based, counting every observe call) and ``ts`` its event time.
    """

    detector: str
    field: str | None
    statistic: float
    threshold: float
    p_value: float | None
    window_start: int
    window_end: int
    reference_start: int
    reference_end: int
    event: int
    ts: float | None
    kind: str = "drift"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FeatureDriftMonitor:
    """Drift monitoring of named fields of event dicts, with cool-down and reference refresh.

    Parameters: ``fields`` (the names watched), ``detector`` (a detector config from
    :mod:`stream_ml.drift.config`), ``cooldown`` (observations muted after an alert),
    ``refresh_on_alarm`` (take a new reference after each alarm) and ``seed`` (an int or a
    :class:`numpy.random.SeedSequence`; each detector's seed derives from it and its fields).

    Examples
    --------
    >>> import numpy as np
    >>> from stream_ml.drift.config import KSConfig
    >>> rng = np.random.default_rng(1)
    >>> cfg = KSConfig(reference_size=200, window_size=100, check_every=10, ert=2000)
    >>> mon = FeatureDriftMonitor(["a", "b"], cfg)
    >>> alerts = []
    >>> for i in range(1500):
    ...     b = rng.normal(0, 1) + (1.5 if i >= 800 else 0.0)
    ...     alerts += mon.observe({"a": rng.normal(0, 1), "b": b}, t=float(i))
    >>> mon.observe({"a": "n/a", "b": 0.0})
    []
    >>> [(a.field, a.event >= 800) for a in alerts], mon.skipped["a"]
    ([('b', True)], 1)
    """

    def __init__(self, fields: list[str] | tuple[str, ...], detector: Any, *,
                 cooldown: int | None = None, refresh_on_alarm: bool = False,
                 seed: SeedLike = None) -> None:  # fmt: skip
        if not fields:
            raise ConfigError("a drift monitor needs at least one field")
        self.fields = tuple(fields)
        self.config = detector
        self.refresh_on_alarm = refresh_on_alarm
        self.seed = seed
        self.family = getattr(detector, "family", "numeric")
        if self.family == "numeric":
            self._groups: list[tuple[str, ...]] = [self.fields]
            self.detectors = [detector.build(len(self.fields), self.fields, None,
                                             self._seed(self.fields))]  # fmt: skip
        else:
            ert = getattr(detector, "ert", None)
            per = None if ert is None else ert * len(self.fields)
            self._groups = [(f,) for f in self.fields]
            self.detectors = [detector.build(1, (f,), per, self._seed((f,))) for f in self.fields]
        if cooldown is None:
            ert = getattr(detector, "ert", None)
            cooldown = int(ert) if ert else 10 * getattr(detector, "window_size", 200)
        self.cooldown = cooldown
        self._muted_until = [0] * len(self.detectors)
        self.skipped = dict.fromkeys(self.fields, 0)
        self.n_events = 0
        self.n_alerts = 0

    def _seed(self, group: tuple[str, ...]) -> int:
        """The seed of the detector watching ``group`` (a config's own seed overrides it)."""
        return derive_seed(self.seed, "drift-detector", *group)

    def observe(self, x: dict[str, Any], t: float | None = None) -> list[DriftAlert]:
        """Feed one event's fields; return the alerts it raised (usually none)."""
        event = self.n_events
        self.n_events = event + 1
        alerts: list[DriftAlert] = []
        numeric = self.family == "numeric"
        for i, group in enumerate(self._groups):
            det = self.detectors[i]
            if numeric:
                row = self._numbers(x, group)
                if row is None:
                    continue
                det.update(row if len(row) > 1 else row[0])
            else:
                value = x.get(group[0])
                if value is None or (self.family == "error" and not _is_number(value)):
                    self.skipped[group[0]] += 1
                    continue
                det.update(value)
            if det.drift_detected:
                if event >= self._muted_until[i]:
                    self._muted_until[i] = event + self.cooldown
                    alerts.append(self._alert(det.state, event, t, group))
                if self.refresh_on_alarm:
                    det.reset_reference()
        self.n_alerts += len(alerts)
        return alerts

    def _numbers(self, x: dict[str, Any], group: tuple[str, ...]) -> list[float] | None:
        row: list[float] = []
        for f in group:
            v: Any = x.get(f)
            if not (_is_number(v) and math.isfinite(v)):
                for g in group:
                    if not (_is_number(x.get(g)) and math.isfinite(x[g])):
                        self.skipped[g] += 1
                return None
            row.append(v)
        return row

    def _alert(self, check: DriftCheck | None, event: int, t: float | None,
               group: tuple[str, ...]) -> DriftAlert:  # fmt: skip
        assert check is not None
        field = check.field if check.field is not None else (group[0] if len(group) == 1 else None)
        return DriftAlert(check.detector, field, check.statistic, check.threshold, check.p_value,
                          check.window_start, check.window_end, check.reference_start,
                          check.reference_end, event, t)  # fmt: skip

    def reset_reference(self) -> None:
        """Every detector takes the next values as its reference (after a retrain/rollback)."""
        for det in self.detectors:
            det.reset_reference()


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float)  # bool included: a 0/1 feature
