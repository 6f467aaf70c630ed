"""Distinct count of a window: exact with removal, or exact up to a bound then HyperLogLog.

A window that removes values (sliding, count, tumbling, session) counts each value's occurrences
in a dict, which is exact and bounded by the window. An all-time window cannot remove, so it
keeps the exact values (in arrival order) up to ``bound`` of them and then switches to Apache
DataSketches' HLL sketch (:class:`~stream_ml.features.sketches.HllCount`, ``lg_k = 12``: relative
standard error 1.29 %), fed the exact values in the order they came, so the sketch is a function
of the input alone. :meth:`DistinctSketch.merge` combines two states (per-worker state).

>>> d = DistinctWindow(0)
>>> for v in ("a", "b", "a"):
...     d.update((v,), 0.0)
>>> d.revert(("a",), 0.0); get_distinct(d, 0.0)
2
>>> s = DistinctSketch(0, 3)
>>> for v in "abcabcd":
...     s.update((v,), 0.0)
>>> s.exact is None, round(get_distinct(s, 0.0))
(True, 4)
"""

from __future__ import annotations

from typing import Any

from stream_ml.features.sketches import HllCount
from stream_ml.features.sketches.hyperloglog import HyperLogLog


class DistinctWindow:
    """Occurrence counts of the window's values (exact, removable)."""

    __slots__ = ("col", "counts")

    def __init__(self, col: int, param: Any = None) -> None:
        self.col = col
        self.counts: dict = {}

    def update(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        c = self.counts
        c[v] = c.get(v, 0) + 1

    def revert(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        c = self.counts
        k = c[v] - 1
        if k:
            c[v] = k
        else:
            del c[v]

    def copy(self) -> DistinctWindow:
        d = DistinctWindow(self.col)
        d.counts = self.counts.copy()
        return d


class DistinctSketch:
    """The exact values up to ``bound`` of them, then an HLL sketch (no removal; mergeable).

    ``exact`` is a dict used as an insertion-ordered set (a ``set`` iterates in salted-hash
    order, which would make the sketch built from it differ between processes).
    """

    __slots__ = ("bound", "col", "exact", "hll")

    def __init__(self, col: int, param: Any = 1024) -> None:
        self.col = col
        self.bound = int(param) if param is not None else 1024
        self.exact: dict | None = {}
        # a HyperLogLog only in a state pickled before the DataSketches switch (it goes on there)
        self.hll: HllCount | HyperLogLog | None = None

    def update(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        exact = self.exact
        if exact is not None:
            exact[v] = None
            if len(exact) > self.bound:
                self._to_sketch()
        else:
            self.hll.update(v)  # type: ignore[union-attr]

    def _to_sketch(self) -> None:
        hll = HllCount()
        hll.update_many(self.exact or ())
        self.hll = hll
        self.exact = None

    def merge(self, other: DistinctSketch) -> None:
        """Add ``other``'s values (exact while the union stays within ``bound``)."""
        if self.exact is not None and other.exact is not None:
            self.exact.update(other.exact)
            if len(self.exact) > self.bound:
                self._to_sketch()
            return
        if self.exact is not None:
            self._to_sketch()
        assert self.hll is not None
        if other.exact is not None:
            self.hll.update_many(other.exact)
        else:
            assert other.hll is not None
            if type(self.hll) is not type(other.hll):
                raise TypeError("a state pickled before the DataSketches switch does not merge")
            self.hll.merge(other.hll)  # type: ignore[arg-type]

    def __setstate__(self, state: Any) -> None:
        slots = state[1] if isinstance(state, tuple) else state
        exact = slots.get("exact")
        if isinstance(exact, set):  # pickled before the switch: a set, in a salted order
            slots = {**slots, "exact": dict.fromkeys(sorted(exact, key=_stable_order))}
        for name, value in slots.items():
            setattr(self, name, value)

    def copy(self) -> DistinctSketch:
        d = DistinctSketch(self.col, self.bound)
        d.exact = None if self.exact is None else self.exact.copy()
        d.hll = None if self.hll is None else self.hll.copy()
        return d


def _stable_order(v: Any) -> tuple[str, str]:
    return (type(v).__name__, repr(v))


def get_distinct(s: DistinctWindow | DistinctSketch, t: float) -> float | int:
    if isinstance(s, DistinctWindow):
        return len(s.counts)
    if s.exact is not None:
        return len(s.exact)
    return s.hll.get()  # type: ignore[union-attr]
