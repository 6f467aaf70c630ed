"""Quantiles of an all-time window: exact up to a bound, then the P-square sketch.

Windows that remove values get exact quantiles from :class:`~.order.SortedValues`. An all-time
window keeps its values sorted up to ``bound`` of them, and then switches to River's
``stats.Quantile``, the P-square algorithm [^1] (five markers, constant memory), seeded with the
exact values in time order.

[^1]: Jain, R. and Chlamtac, I. (1985). The P-square algorithm for dynamic calculation of
quantiles and histograms without storing observations. Communications of the ACM, 28(10).

>>> s = QuantileSketch(0, (0.5, 4))
>>> for v in (1.0, 2.0, 3.0):
...     s.update((v,), 0.0)
>>> get_quantile(s, 0.0)
2.0
>>> for v in range(100):
...     s.update((float(v),), 0.0)
>>> s.sorted is None, 40 < get_quantile(s, 0.0) < 60
(True, True)
"""

from __future__ import annotations

import copy
from bisect import insort
from typing import Any

from river import stats

from stream_ml.features.aggregates.order import SortedValues, quantile_of


class QuantileSketch:
    """One quantile ``q`` of all values: exact up to ``bound`` values, then P-square."""

    __slots__ = ("bound", "col", "p2", "q", "sorted")

    def __init__(self, col: int, param: Any = (0.5, 1024)) -> None:
        self.col = col
        self.q, self.bound = float(param[0]), int(param[1])
        self.sorted: list | None = []
        self.p2: stats.Quantile | None = None

    def update(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        if self.sorted is not None:
            insort(self.sorted, v)
            if len(self.sorted) > self.bound:
                self.p2 = stats.Quantile(self.q)
                for u in self.sorted:
                    self.p2.update(u)
                self.sorted = None
        else:
            assert self.p2 is not None
            self.p2.update(v)

    def copy(self) -> QuantileSketch:
        s = QuantileSketch(self.col, (self.q, self.bound))
        s.sorted = None if self.sorted is None else self.sorted.copy()
        s.p2 = None if self.p2 is None else copy.deepcopy(self.p2)
        return s


def get_quantile(s: QuantileSketch, t: float) -> float | None:
    if s.sorted is not None:
        return quantile_of(s.sorted, s.q)
    assert s.p2 is not None
    return s.p2.get()


def quantile_getter(q: float):
    """A picklable reader of quantile ``q`` from a :class:`SortedValues` state."""
    return _SortedQuantile(q)


class _SortedQuantile:
    __slots__ = ("q",)

    def __init__(self, q: float) -> None:
        self.q = q

    def __call__(self, s: SortedValues, t: float) -> float | None:
        return quantile_of(s.values, self.q)

    def __reduce__(self) -> tuple:
        return (_SortedQuantile, (self.q,))
