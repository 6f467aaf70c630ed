"""Target aggregates: the mean label of a key, from the feedback that has arrived.

Labels enter through ``FeatureSet.learn_one`` only, so a feature read at any moment uses exactly
the labels that had arrived by then (no leakage of labels from the future). ``prior`` and
``strength`` m shrink small keys towards a prior mean, ``(sum_y + m * prior) / (n + m)``, the
additive smoothing of target encoding [^1].

[^1]: Micci-Barreca, D. (2001). A preprocessing scheme for high-cardinality categorical attributes
in classification and prediction problems. SIGKDD Explorations, 3(1), 27-32.

>>> s = TargetMean(0, (None, 0.0, None))
>>> s.update((1,), 0.0); s.update((0,), 1.0)
>>> get_target_mean(s, 2.0)
0.5
"""

from __future__ import annotations

from typing import Any

from stream_ml.features.aggregates.decay import Decayed, _factor


class TargetMean:
    """Label count and sum (plain, or decayed with ``half_life``) for one key."""

    __slots__ = ("decayed", "n", "prior", "strength", "sum")

    def __init__(self, col: int, param: Any) -> None:
        half_life, self.strength, self.prior = param
        self.decayed = Decayed(0, half_life) if half_life else None
        self.n = 0
        self.sum = 0.0

    def update(self, row: tuple, ts: float) -> None:
        if self.decayed is not None:
            self.decayed.update(row, ts)
        self.n += 1
        self.sum += row[0]


def get_target_mean(s: TargetMean, t: float) -> float | None:
    m = s.strength if s.prior is not None else 0.0
    if s.decayed is not None:
        f = _factor(s.decayed, t)
        n, total = s.decayed.sw * f, s.decayed.swx * f
    else:
        n, total = s.n, s.sum
    if n + m <= 0.0:
        return s.prior
    return (total + m * (s.prior or 0.0)) / (n + m)
