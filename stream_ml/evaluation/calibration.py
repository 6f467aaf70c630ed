"""Calibration: the reliability curve and the expected calibration error (ECE) of a classifier.

Top-label calibration over equal-width bins: for each scored event with probabilities, the
*confidence* is the largest class probability and the event is *correct* when that class (the
argmax, the first listed on a tie, as :class:`~stream_ml.models.slot.ModelSlot` takes it) is the
label. Events fall into ``bins`` equal-width bins of ``[0, 1]`` (bin ``b`` holds confidences in
``[b/bins, (b+1)/bins)``, the last one includes 1). Per bin: its count, mean confidence and
accuracy; the ECE is ``sum_b n_b / n * |accuracy_b - confidence_b|`` (Guo et al., 2017).

The engine computes it when a report is read, from the events of the Prequential ring (the
rolling window): it costs nothing per event. Events without probabilities (``None`` or ``{}``)
are left out, and so are events whose confidence is not a number in ``[0, 1]`` (NaN, inf,
a model's bad output): they are counted nowhere (not in ``n``), and reading never raises on
them. A perfectly calibrated predictor's ECE is not 0 on a finite window: each bin's
accuracy is a proportion over ``n_b`` events, so its expected ECE is of order
``sum_b n_b / n * sqrt(2 p_b (1 - p_b) / (pi n_b))`` (about 0.02 on a 1,000-event window).

>>> events = [(True, True, {True: 0.9, False: 0.1})] * 9 + [(False, True, {True: 0.9, False: 0.1})]
>>> events += [(True, None, {})]  # no probabilities: not counted
>>> r = reliability(events)
>>> r["n"], round(r["ece"], 6), [(b["lo"], b["n"], b["accuracy"]) for b in r["bins"] if b["n"]]
(10, 0.0, [(0.9, 10, 0.9)])
>>> round(reliability([(False, True, {True: 0.8, False: 0.2})])["ece"], 6)
0.8
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["reliability"]


def reliability(events: Iterable[tuple[Any, Any, Any]], bins: int = 10) -> dict[str, Any]:
    """The reliability curve and ECE of ``(y, y_pred, proba)`` events (``window`` is the
    caller's to add). ``ece`` is None when no event has probabilities."""
    counts = [0] * bins
    conf = [0.0] * bins
    hits = [0] * bins
    last = bins - 1
    for y, _y_pred, proba in events:
        if not proba:
            continue
        try:
            top = max(proba, key=proba.get)
            c = float(proba[top])
        except (TypeError, ValueError):  # not a mapping of numbers: not counted
            continue
        if not 0.0 <= c <= 1.0 + 1e-9:  # NaN, inf or out of [0, 1]: not counted
            continue
        b = int(c * bins)
        if b > last:
            b = last
        elif b < 0:
            b = 0
        counts[b] += 1
        conf[b] += c
        if top == y:
            hits[b] += 1
    n = sum(counts)
    out_bins = []
    ece = 0.0
    for b in range(bins):
        k = counts[b]
        mean_conf = conf[b] / k if k else None
        acc = hits[b] / k if k else None
        if k:
            ece += k / n * abs(acc - mean_conf)  # type: ignore[operator]
        out_bins.append(
            {
                "lo": round(b / bins, 10),
                "hi": round((b + 1) / bins, 10),
                "n": k,
                "confidence": mean_conf,
                "accuracy": acc,
            }
        )
    return {"n": n, "ece": ece if n else None, "bins": out_bins}
