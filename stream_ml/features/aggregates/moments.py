"""Count, sum, mean and variance of a window, with removal (Welford's algorithm).

Update and revert are Welford's running-moment recurrences [^1]; revert is the exact inverse used
by River's ``stats.Var.revert``. The sum is kept apart from the mean so that ``sum`` does not pick
up the rounding of ``mean * n``. When the window empties, everything resets to exact zeros, which
stops the drift of long add/remove sequences.

[^1]: Welford, B. P. (1962). Note on a method for calculating corrected sums of squares and
products. Technometrics, 4(3), 419-420.

>>> m = Moments(0)
>>> for v in (1.0, 2.0, 4.0):
...     m.update((v,), 0.0)
>>> m.revert((1.0,), 0.0)
>>> get_count(m, 0.0), get_sum(m, 0.0), get_mean(m, 0.0), round(get_var(m, 0.0), 9)
(2, 6.0, 3.0, 2.0)
"""

from __future__ import annotations

import math
from typing import Any


class Counter:
    """Number of events in the window (no field needed).

    >>> c = Counter(0)
    >>> c.update((), 1.0); c.update((), 2.0); c.revert((), 1.0)
    >>> c.n
    1
    """

    __slots__ = ("n",)

    def __init__(self, col: int, param: Any = None) -> None:
        self.n = 0

    def update(self, row: tuple, ts: float) -> None:
        self.n += 1

    def revert(self, row: tuple, ts: float) -> None:
        self.n -= 1

    def copy(self) -> Counter:
        c = Counter(0)
        c.n = self.n
        return c


class Moments:
    """Running count, sum, mean and M2 of column ``col`` of the rows.

    >>> m = Moments(0)
    >>> m.update((3,), 0.0); get_mean(m, 0.0), get_std(m, 0.0)
    (3.0, 0.0)
    """

    __slots__ = ("col", "m2", "mean", "n", "sum")

    def __init__(self, col: int, param: Any = None) -> None:
        self.col = col
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.sum = 0.0

    def update(self, row: tuple, ts: float) -> None:
        x = row[self.col]
        n = self.n + 1
        self.n = n
        d = x - self.mean
        self.mean += d / n
        self.m2 += d * (x - self.mean)
        self.sum += x

    def revert(self, row: tuple, ts: float) -> None:
        n = self.n - 1
        if n <= 0:
            self.n = 0
            self.mean = self.m2 = self.sum = 0.0
            return
        x = row[self.col]
        self.n = n
        d = x - self.mean
        self.mean -= d / n
        self.m2 -= d * (x - self.mean)
        self.sum -= x

    def copy(self) -> Moments:
        m = Moments(self.col)
        m.n, m.mean, m.m2, m.sum = self.n, self.mean, self.m2, self.sum
        return m


def get_count(s: Counter | Moments, t: float) -> int:
    return s.n


def get_sum(s: Moments, t: float) -> float:
    return s.sum


def get_mean(s: Moments, t: float) -> float | None:
    return s.mean if s.n else None


def get_var(s: Moments, t: float) -> float | None:
    """Sample variance (ddof=1, as River's ``stats.Var``); 0.0 for a single event."""
    n = s.n
    if not n:
        return None
    return max(s.m2, 0.0) / (n - 1) if n > 1 else 0.0


def get_std(s: Moments, t: float) -> float | None:
    v = get_var(s, t)
    return None if v is None else math.sqrt(v)
