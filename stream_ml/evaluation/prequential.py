"""Prequential (test-then-train) evaluation with any River metric, cumulative and rolling.

Each labelled prediction updates the cumulative metrics at once, exactly as
``river.evaluate.progressive_val_score`` does (the same skip rule: a prediction that is ``None``
or ``{}`` is not scored). The rolling value over the last ``window`` scored events is not
maintained per event: the pairs go into a preallocated ring and the rolling metric is recomputed
from it when somebody reads it (a report, a dashboard tick), which costs nothing on the hot path.
A classifier's calibration counters are brought up to date with the ring when read
(:meth:`Prequential.calibration`).

>>> pq = Prequential(["Accuracy"], window=2, is_classifier=True)
>>> for y, y_pred in [(True, True), (True, False), (False, False)]:
...     pq.update(y, y_pred, None)
>>> round(pq.values()["Accuracy"], 4), pq.rolling()["Accuracy"]
(0.6667, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from river import metrics as river_metrics

from stream_ml.errors import ConfigError
from stream_ml.models.expr import parse_in


def build_metric(name: str) -> Any:
    """A fresh River metric from a name such as ``"Accuracy"`` or ``"F1(pos_val=1)"``."""
    metric = parse_in(name, "metrics")
    if not isinstance(metric, river_metrics.base.Metric):
        raise ConfigError(f"metric {name!r} is not a River metric")
    return metric


class Prequential:
    """Cumulative and rolling values of a set of River metrics for one model.

    Parameters
    ----------
    names
        Metric names, resolved inside ``river.metrics``.
    window
        Number of most recent scored events the rolling values cover.
    is_classifier
        Whether the model has probabilities: metrics that do not require labels (ROCAUC,
        LogLoss...) are then fed the probabilities, the others the label.
    """

    def __init__(self, names: Sequence[str], *, window: int = 1000, is_classifier: bool) -> None:
        if window < 1:
            raise ConfigError(f"rolling window must be >= 1, got {window}")
        self.names = list(names)
        self.window = window
        self.is_classifier = is_classifier
        self.metrics = [build_metric(n) for n in self.names]
        self._uses_proba = [is_classifier and not m.requires_labels for m in self.metrics]
        for name, m, proba in zip(self.names, self.metrics, self._uses_proba, strict=True):
            if (
                is_classifier
                and not proba
                and not isinstance(m, river_metrics.base.ClassificationMetric)
            ):
                raise ConfigError(f"metric {name!r} does not apply to a classifier")
            if not is_classifier and isinstance(m, river_metrics.base.ClassificationMetric):
                raise ConfigError(f"metric {name!r} is for classifiers; the model is not one")
        self._label_updates = [m.update for m, p in zip(self.metrics, self._uses_proba) if not p]
        self._proba_updates = [m.update for m, p in zip(self.metrics, self._uses_proba) if p]
        self._single = self._single_update()
        self._ring: list[Any] = [None] * window  # (y, y_pred, proba) per scored event
        self._i = 0
        self.n = 0
        self._cal_init()

    def _cal_init(self) -> None:
        """Empty calibration counters (classifiers; see :meth:`calibration`)."""
        self._cal: list[Any] | None = None  # per ring slot: (bin, confidence * SCALE, hit)
        if not self.is_classifier:
            return
        from stream_ml.evaluation.calibration import BINS

        self._cal = [None] * self.window
        self._cal_n = [0] * BINS
        self._cal_c = [0] * BINS
        self._cal_h = [0] * BINS
        self._cal_seen = 0  # self.n when the counters were last brought up to date

    def _cal_sync(self) -> None:
        """Bring the counters up to the ring: for each slot written since the last read, the
        overwritten event is subtracted and the new one added (all slots when the ring has
        turned over since)."""
        from stream_ml.evaluation.calibration import BINS, SCALE, top_confidence

        cal = self._cal
        assert cal is not None
        new, window = self.n - self._cal_seen, self.window
        if not new:
            return
        counts, conf, hits = self._cal_n, self._cal_c, self._cal_h
        if new >= window:
            new = window
            cal[:] = [None] * window
            counts[:] = conf[:] = hits[:] = [0] * BINS
        ring, start = self._ring, (self._i - new) % window
        for j in (*range(start, min(start + new, window)), *range(start + new - window)):
            old = cal[j]
            if old is not None:
                b, s, h = old
                counts[b] -= 1
                conf[b] -= s
                hits[b] -= h
            event = ring[j]
            tc = None if event is None else top_confidence(event[2])
            if tc is None:
                cal[j] = None
                continue
            top, c = tc
            b = min(int(c * BINS), BINS - 1)
            s, h = int(c * SCALE), 1 if top == event[0] else 0
            cal[j] = (b, s, h)
            counts[b] += 1
            conf[b] += s
            hits[b] += h
        self._cal_seen = self.n

    _CACHE = ("_cal", "_cal_n", "_cal_c", "_cal_h", "_cal_seen")

    def __getstate__(self) -> dict[str, Any]:
        # the calibration counters are a cache of the ring, which a read updates: not state
        # (a read must not change the pickle or the digest); rebuilt on the first read
        state = dict(self.__dict__)
        for k in self._CACHE:
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_ring" not in state:  # a snapshot written before the ring held one tuple per event
            ys, labels, probas = state.pop("_ys"), state.pop("_labels"), state.pop("_probas")
            state["_ring"] = [
                None if y is None and y_pred is None and p is None else (y, y_pred, p)
                for y, y_pred, p in zip(ys, labels, probas, strict=True)
            ]
        self.__dict__.update(state)
        if "_single" not in state:  # a snapshot written before the one-metric fast path
            self._single = self._single_update()
        self._cal_init()  # the counters are not pickled (__getstate__): rebuilt here, with
        if self._cal is not None:  # the rest of the state (not in a later engine call)
            self._cal_sync()

    def _single_update(self) -> Any:
        """The ``update`` of the only metric when there is one and it scores the label (the
        default ``Accuracy``, ``MAE``...): ``update`` calls it without looping (None otherwise)."""
        if len(self._label_updates) == 1 and not self._proba_updates:
            return self._label_updates[0]
        return None

    def update(self, y: Any, y_pred: Any, proba: Any) -> None:
        """Score one labelled prediction (label ``y_pred``, probabilities ``proba`` or None).

        A non-answer (``y_pred`` None and no probabilities: a model that has not learned yet)
        is not scored, as in River's ``progressive_val_score``: not counted in ``n``, not in the
        rolling window.
        """
        single = self._single
        if single is not None:
            if y_pred is not None:
                single(y, y_pred)
            elif not proba:
                return
        else:
            if y_pred is not None:
                for upd in self._label_updates:
                    upd(y, y_pred)
            elif not proba:
                return
            if proba:
                for upd in self._proba_updates:
                    upd(y, proba)
        i = self._i
        self._ring[i] = (y, y_pred, proba)
        i += 1
        self._i = 0 if i == self.window else i
        self.n += 1

    def values(self) -> dict[str, float]:
        """Cumulative value of every metric."""
        return {n: float(m.get()) for n, m in zip(self.names, self.metrics, strict=True)}

    def rolling(self) -> dict[str, float]:
        """Value of every metric over the last ``window`` scored events."""
        count = min(self.n, self.window)
        start = (self._i - count) % self.window
        order = [(start + j) % self.window for j in range(count)]
        out = {}
        ring = self._ring
        for name, uses_proba in zip(self.names, self._uses_proba, strict=True):
            m = build_metric(name)
            at = 2 if uses_proba else 1
            for j in order:
                event = ring[j]
                p = event[at]
                if p is not None and p != {}:
                    m.update(event[0], p)
            out[name] = float(m.get())
        return out

    def calibration(self, bins: int = 10) -> dict[str, Any]:
        """The reliability curve and ECE over the ring (see :mod:`.calibration`): from the
        counters kept for the ring, brought up to date here from the events written since the
        last read (O(bins + new events), at most O(window); nothing per event); other
        ``bins``: computed from the whole ring."""
        from stream_ml.evaluation.calibration import BINS, reliability, report

        if bins == BINS and self._cal is not None:
            self._cal_sync()
            return {"window": self.window, **report(self._cal_n, self._cal_c, self._cal_h)}
        ring = self._ring if self.n >= self.window else self._ring[: self._i]
        events = (e for e in ring if e is not None)  # None: a slot of an old snapshot's ring
        return {"window": self.window, **reliability(events, bins)}
