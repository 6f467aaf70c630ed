"""Calibration: the reliability curve and the expected calibration error (ECE) of a classifier.

Top-label calibration over equal-width bins: for each scored event with probabilities, the
*confidence* is the largest class probability and the event is *correct* when that class (the
argmax, the first listed on a tie, as :class:`~stream_ml.models.slot.ModelSlot` takes it) is the
label. Events fall into ``bins`` equal-width bins of ``[0, 1]`` (bin ``b`` holds confidences in
``[b/bins, (b+1)/bins)``, the last one includes 1). Per bin: its count, mean confidence and
accuracy; the ECE is ``sum_b n_b / n * |accuracy_b - confidence_b|`` (Guo et al., 2017).

The engine reads it from the Prequential ring (the rolling window), with per-bin counters
(count, exact sum of confidences, hits) that a read brings up to date from the events written
since the previous read (each one added, the one it overwrote subtracted): nothing per event,
and a read costs O(bins + events since the last read), at most O(window). Events without
probabilities (``None`` or ``{}``) are left out, and so are events whose confidence is not a
number in ``[0, 1]`` (NaN, inf, a model's bad output): counted nowhere (not in ``n``), and
reading never raises on them. A perfectly calibrated predictor's ECE is not 0 on a finite
window: each bin's accuracy is a proportion over ``n_b`` events, so its expected ECE is of order
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

__all__ = ["BINS", "SCALE", "reliability", "report", "top_confidence"]

BINS = 10  # the bins Prequential keeps counters for
SCALE = 2.0**80  # a confidence's sum is kept exactly, as an integer of c * 2**80
_ISCALE = 1 << 80


def top_confidence(proba: Any) -> tuple[Any, float] | None:
    """The top label (the first max) and its probability; None when there is none or it is
    not a number in ``[0, 1]`` (NaN, inf, out of range: not counted)."""
    if not proba:
        return None
    try:
        top = max(proba, key=proba.get)
        c = float(proba[top])
    except (TypeError, ValueError):  # not a mapping of numbers
        return None
    if not 0.0 <= c <= 1.0 + 1e-9:  # NaN fails too
        return None
    return top, c


def report(counts: list[int], conf: list[int], hits: list[int]) -> dict[str, Any]:
    """The curve and ECE from per-bin counts, exact confidence sums (integers of ``c *
    SCALE``, divided with correct rounding) and hits."""
    bins = len(counts)
    n = sum(counts)
    out_bins = []
    ece = 0.0
    for b in range(bins):
        k = counts[b]
        mean_conf = conf[b] / (k * _ISCALE) if k else None
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


def reliability(events: Iterable[tuple[Any, Any, Any]], bins: int = BINS) -> dict[str, Any]:
    """The reliability curve and ECE of ``(y, y_pred, proba)`` events (``window`` is the
    caller's to add). ``ece`` is None when no event has probabilities."""
    counts = [0] * bins
    conf = [0] * bins
    hits = [0] * bins
    last = bins - 1
    for y, _y_pred, proba in events:
        tc = top_confidence(proba)
        if tc is None:
            continue
        top, c = tc
        b = int(c * bins)
        if b > last:
            b = last
        counts[b] += 1
        conf[b] += int(c * SCALE)
        if top == y:
            hits[b] += 1
    return report(counts, conf, hits)
