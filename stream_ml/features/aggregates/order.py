"""Min, max and exact quantiles of a window, with removal.

A window that removes values keeps them in a sorted list (``bisect``): insert and remove are a
binary search plus a ``memmove``, which beats heaps with lazy deletion and monotonic deques (those
cannot take the out-of-order inserts that allowed lateness brings) for windows up to tens of
thousands of values. Quantiles use linear interpolation between order statistics (Hyndman & Fan
type 7, numpy's default) [^1].

[^1]: Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages. The American
Statistician, 50(4), 361-365.

>>> s = SortedValues(0)
>>> for v in (5.0, 1.0, 3.0, 9.0):
...     s.update((v,), 0.0)
>>> s.revert((9.0,), 0.0)
>>> get_min(s, 0.0), get_max(s, 0.0), quantile_of(s.values, 0.5)
(1.0, 5.0, 3.0)
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from typing import Any


class SortedValues:
    """The window's values of column ``col``, sorted.

    >>> s = SortedValues(0); s.update((2,), 0.0); s.update((1,), 0.0); s.values
    [1, 2]
    """

    __slots__ = ("col", "values")

    def __init__(self, col: int, param: Any = None) -> None:
        self.col = col
        self.values: list = []

    def update(self, row: tuple, ts: float) -> None:
        insort(self.values, row[self.col])

    def revert(self, row: tuple, ts: float) -> None:
        vals = self.values
        del vals[bisect_left(vals, row[self.col])]

    def copy(self) -> SortedValues:
        s = SortedValues(self.col)
        s.values = self.values.copy()
        return s


class Extremes:
    """Running min and max without removal (for all-time windows).

    >>> e = Extremes(0); e.update((2,), 0.0); e.update((-1,), 0.0); e.lo, e.hi
    (-1, 2)
    """

    __slots__ = ("col", "hi", "lo", "n")

    def __init__(self, col: int, param: Any = None) -> None:
        self.col = col
        self.n = 0
        self.lo: Any = None
        self.hi: Any = None

    def update(self, row: tuple, ts: float) -> None:
        x = row[self.col]
        if self.n == 0:
            self.lo = self.hi = x
        elif x < self.lo:
            self.lo = x
        elif x > self.hi:
            self.hi = x
        self.n += 1

    def copy(self) -> Extremes:
        e = Extremes(self.col)
        e.n, e.lo, e.hi = self.n, self.lo, self.hi
        return e


def get_min(s: SortedValues | Extremes, t: float) -> Any:
    if isinstance(s, SortedValues):
        return s.values[0] if s.values else None
    return s.lo


def get_max(s: SortedValues | Extremes, t: float) -> Any:
    if isinstance(s, SortedValues):
        return s.values[-1] if s.values else None
    return s.hi


def quantile_of(values: list, q: float) -> float | None:
    """Type-7 quantile of an already sorted list (None when empty)."""
    n = len(values)
    if not n:
        return None
    pos = q * (n - 1)
    i = math.floor(pos)
    frac = pos - i
    a = float(values[i])
    if frac == 0.0 or i + 1 >= n:
        return a
    b = float(values[i + 1])
    return a + (b - a) * frac
