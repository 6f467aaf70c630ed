"""Distinct count of a window: exact with removal, or exact up to a bound then HyperLogLog.

A window that removes values (sliding, count, tumbling) counts each value's occurrences in a
dict, which is exact and bounded by the window. An all-time window cannot remove, so it keeps an
exact set up to ``bound`` values and then switches to a :class:`HyperLogLog` sketch [^1].

[^1]: Flajolet et al. (2007), see :mod:`stream_ml.features.sketches.hyperloglog`.

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
    """Exact set up to ``bound`` values, then a HyperLogLog (no removal)."""

    __slots__ = ("bound", "col", "exact", "hll")

    def __init__(self, col: int, param: Any = 1024) -> None:
        self.col = col
        self.bound = int(param) if param is not None else 1024
        self.exact: set | None = set()
        self.hll: HyperLogLog | None = None

    def update(self, row: tuple, ts: float) -> None:
        v = row[self.col]
        if self.exact is not None:
            self.exact.add(v)
            if len(self.exact) > self.bound:
                self.hll = HyperLogLog()
                for u in self.exact:
                    self.hll.update(u)
                self.exact = None
        else:
            assert self.hll is not None
            self.hll.update(v)

    def copy(self) -> DistinctSketch:
        d = DistinctSketch(self.col, self.bound)
        d.exact = None if self.exact is None else set(self.exact)
        d.hll = None if self.hll is None else self.hll.copy()
        return d


def get_distinct(s: DistinctWindow | DistinctSketch, t: float) -> float | int:
    if isinstance(s, DistinctWindow):
        return len(s.counts)
    if s.exact is not None:
        return len(s.exact)
    assert s.hll is not None
    return s.hll.get()
