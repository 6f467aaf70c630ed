"""Quantiles of an all-time window: exact up to a bound, then a t-digest.

Windows that remove values get exact quantiles from :class:`~.order.SortedValues`. An all-time
window keeps its values sorted up to ``bound`` of them, and then switches to Apache
DataSketches' t-digest [^1] (:class:`~stream_ml.features.sketches.TDigestQuantiles`, compression
200), fed the exact values; its rank error is empirical (below 0.025, see the sketch module).
:meth:`QuantileSketch.merge` combines two states (per-worker state).

[^1]: Dunning, T. and Ertl, O. (2019). Computing extremely accurate quantiles using t-digests.
arXiv:1902.04023.

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
from heapq import merge as merge_sorted
from typing import Any

from stream_ml.features.aggregates.order import SortedValues, quantile_of
from stream_ml.features.sketches import TDigestQuantiles


class QuantileSketch:
    """One quantile ``q`` of all values: exact up to ``bound`` values, then a t-digest."""

    __slots__ = ("bound", "col", "digest", "q", "sorted")

    def __init__(self, col: int, param: Any = (0.5, 1024)) -> None:
        self.col = col
        self.q, self.bound = float(param[0]), int(param[1])
        self.sorted: list | None = []
        # LegacyPSquare only in a state pickled before the DataSketches switch
        self.digest: TDigestQuantiles | LegacyPSquare | None = None

    def update(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        if self.sorted is not None:
            insort(self.sorted, v)
            if len(self.sorted) > self.bound:
                self._to_sketch()
        else:
            self.digest.update(v)  # type: ignore[union-attr]

    def _to_sketch(self) -> None:
        digest = TDigestQuantiles()
        digest.update_many(self.sorted or ())
        self.digest = digest
        self.sorted = None

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s values (exact while the union stays within ``bound``)."""
        if self.sorted is not None and other.sorted is not None:
            self.sorted = list(merge_sorted(self.sorted, other.sorted))
            if len(self.sorted) > self.bound:
                self._to_sketch()
            return
        if self.sorted is not None:
            self._to_sketch()
        assert self.digest is not None
        if other.sorted is not None:
            self.digest.update_many(other.sorted)
        else:
            assert other.digest is not None
            if type(self.digest) is not type(other.digest):
                raise TypeError("a state pickled before the DataSketches switch does not merge")
            self.digest.merge(other.digest)  # type: ignore[arg-type]

    def __setstate__(self, state: Any) -> None:
        slots = dict(state[1] if isinstance(state, tuple) else state)
        if "p2" in slots:  # pickled before the switch: River's P-square goes on for this state
            p2 = slots.pop("p2")
            slots["digest"] = None if p2 is None else LegacyPSquare(p2)
        for name, value in slots.items():
            setattr(self, name, value)

    def copy(self) -> QuantileSketch:
        s = QuantileSketch(self.col, (self.q, self.bound))
        s.sorted = None if self.sorted is None else self.sorted.copy()
        s.digest = None if self.digest is None else self.digest.copy()
        return s


class LegacyPSquare:
    """River's P-square (``stats.Quantile``) of a state pickled before the DataSketches switch.

    It goes on updating for that state (the P-square cannot become a t-digest); new states never
    use it, and it does not merge.
    """

    __slots__ = ("p2",)

    def __init__(self, p2: Any) -> None:
        self.p2 = p2

    def update(self, value: float) -> None:
        self.p2.update(value)

    def update_many(self, values: Any) -> None:
        for v in values:
            self.p2.update(v)

    def get(self, q: float) -> float:
        return self.p2.get()

    def merge(self, other: Any) -> None:
        raise TypeError("a state pickled before the DataSketches switch does not merge")

    def copy(self) -> LegacyPSquare:
        return LegacyPSquare(copy.deepcopy(self.p2))


def get_quantile(s: QuantileSketch, t: float) -> float | None:
    if s.sorted is not None:
        return quantile_of(s.sorted, s.q)
    return s.digest.get(s.q)  # type: ignore[union-attr]


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
