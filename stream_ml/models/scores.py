"""Per-event scores of one model's answer, shared by the router stage and the drift stage.

>>> positive_proba({False: 0.3, True: 0.7}), positive_proba({"cat": 0.2, "dog": 0.8})
(0.7, 0.8)
>>> error_of(True, False, is_classifier=True), error_of(3.0, 2.5, is_classifier=False)
(1.0, 0.5)
"""

from __future__ import annotations

from typing import Any

_POSITIVE = (True, 1, "1", "True")


def positive_proba(proba: dict[Any, float] | None) -> float | None:
    """P(positive class) (keys True, 1, "1" or "True"), else the largest probability."""
    if not proba:
        return None
    for positive in _POSITIVE:
        if positive in proba:
            return float(proba[positive])
    return float(max(proba.values()))


def error_of(y: Any, y_pred: Any, *, is_classifier: bool) -> float | None:
    """0/1 error of a classifier, absolute error of a regressor; None when it cannot be scored."""
    if y_pred is None:
        return None
    if is_classifier:
        return 0.0 if y_pred == y else 1.0
    try:
        return abs(float(y) - float(y_pred))
    except (TypeError, ValueError):
        return None
