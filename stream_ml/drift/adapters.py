"""River's drift detectors behind the windowed detectors' interface.

:class:`RiverDetector` wraps any ``river.base.DriftDetector`` (ADWIN, PageHinkley, KSWIN, and
the binary ones DDM, EDDM, HDDM_A, ...) so that it watches a model's error or loss stream with the
same verbs (``update``, ``drift_detected``, ``state``, ``reset``) and alarm payload
(:class:`~stream_ml.drift.base.DriftCheck`) as the two-sample detectors. River's detectors have
their own thresholds (``delta``, ``threshold``, ...): nothing here calibrates them to an ERT.

References: Bifet and Gavaldà (2007), *Learning from time-changing data with adaptive windowing*
(ADWIN); Page (1954), *Continuous inspection schemes* (Page-Hinkley); Gama et al. (2004),
*Learning with drift detection* (DDM).

>>> det = RiverDetector.of("ddm")
>>> errors = [0] * 300 + [1, 0] * 150
>>> hits = []
>>> for i, e in enumerate(errors):
...     det.update(e)
...     if det.drift_detected:
...         hits.append(i)
>>> hits[0] >= 300, det.state.detector
(True, 'ddm')
"""

from __future__ import annotations

import copy
import math
from typing import Any

from river import drift
from river.drift import binary

from stream_ml.drift.base import DriftCheck
from stream_ml.drift.seeding import DEFAULT_SEED
from stream_ml.errors import ConfigError

__all__ = ["RiverDetector", "error_of"]

_RIVER = {
    "adwin": drift.ADWIN,
    "page_hinkley": drift.PageHinkley,
    "kswin": drift.KSWIN,
    "ddm": binary.DDM,
    "eddm": binary.EDDM,
    "hddm_a": binary.HDDMA,
    "hddm_w": binary.HDDMW,
    "fhddm": binary.FHDDM,
}
#: River detectors that draw random numbers (KSWIN subsamples its window): they get a seed
_SEEDED = frozenset({"kswin"})


def error_of(y_true: Any, y_pred: Any) -> float:
    """The 0/1 error of a prediction (for classifiers; use a loss for regressors)."""
    return 0.0 if y_true == y_pred else 1.0


class RiverDetector:
    """A River drift detector that watches an error (or loss) stream.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> det = RiverDetector.of("adwin", delta=0.002, field="loss")
    >>> stream = [rng.gauss(0.2, 0.05) for _ in range(1000)]
    >>> stream += [rng.gauss(0.6, 0.05) for _ in range(300)]
    >>> first = next(i for i, v in enumerate(stream) if det.update(v) or det.drift_detected)
    >>> 1000 <= first < 1100, det.state.field
    (True, 'loss')
    """

    def __init__(self, detector: Any, name: str, field: str | None = None) -> None:
        self.detector = detector
        self.name = name
        self.field = field
        self._fresh = copy.deepcopy(detector)
        self.reset()

    @classmethod
    def of(cls, kind: str, field: str | None = None, seed: int | None = None,
           **params: Any) -> RiverDetector:  # fmt: skip
        """Build one of River's detectors by kind ("adwin", "page_hinkley", "ddm", ...).

        A detector that draws random numbers (KSWIN) gets ``seed``, or
        :data:`~stream_ml.drift.seeding.DEFAULT_SEED` without one: never OS entropy. The others
        draw none and ignore it.
        """
        try:
            factory = _RIVER[kind]
        except KeyError:
            raise ConfigError(f"unknown River detector {kind!r}; one of {sorted(_RIVER)}") from None
        if kind in _SEEDED:
            params["seed"] = DEFAULT_SEED if seed is None else seed
        return cls(factory(**params), kind, field)

    def reset(self) -> None:
        """A fresh detector with the same parameters."""
        self.detector = copy.deepcopy(self._fresh)
        self.drift_detected = False
        self.n_events = 0
        self.n_alarms = 0
        self._last: DriftCheck | None = None

    def reset_reference(self, values: Any = None) -> None:
        """River's detectors have no separate reference: this resets them."""
        self.reset()

    def update(self, value: Any) -> None:
        """Take one error or loss value."""
        self.n_events += 1
        det = self.detector
        det.update(value)
        self.drift_detected = det.drift_detected
        if self.drift_detected:
            self.n_alarms += 1
            width = int(getattr(det, "width", 0) or 0)
            n = self.n_events
            self._last = DriftCheck(self.name, self.field, math.nan, math.nan, True, n,
                                    n - width, n, 0, 0)  # fmt: skip

    @property
    def state(self) -> DriftCheck | None:
        """The last alarm (River's detectors expose no statistic at every step)."""
        return self._last
