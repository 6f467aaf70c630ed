"""Exponentially decayed count, sum and mean in event time (half-life).

Each event weighs ``2 ** (-(t - ts) / half_life)`` at query time t. The sums are kept relative to
a reference time, so the weight of an event does not depend on when it arrived: out-of-order
events land exactly, and a read at any t is one multiplication. The reference moves forward when
exponents grow large, to stay far from overflow. This is the event-time EWMA of irregularly
spaced data [^1].

[^1]: Eckner, A. (2019). Algorithms for unevenly spaced time series: moving averages and other
rolling operators. Working paper, section 4.

>>> d = Decayed(0, 10.0)
>>> d.update((1.0,), 0.0); d.update((3.0,), 10.0)
>>> get_decayed_count(d, 10.0), round(get_decayed_mean(d, 10.0), 6)
(1.5, 2.333333)
"""

from __future__ import annotations

from typing import Any

_REBASE = 512.0


class Decayed:
    """Decayed weight and weighted sum of column ``col`` (``col < 0``: weight only)."""

    __slots__ = ("col", "half_life", "ref", "sw", "swx")

    def __init__(self, col: int, param: Any) -> None:
        self.col = col
        self.half_life = float(param)
        self.ref: float | None = None
        self.sw = 0.0
        self.swx = 0.0

    def update(self, row: tuple, ts: float) -> None:
        ref = self.ref
        if ref is None:
            ref = self.ref = ts
        e = (ts - ref) / self.half_life
        if e > _REBASE:
            f = 2.0 ** (-e)
            self.sw *= f
            self.swx *= f
            self.ref = ts
            e = 0.0
        w = 2.0**e
        self.sw += w
        if self.col >= 0:
            self.swx += w * row[self.col]

    def copy(self) -> Decayed:
        d = Decayed(self.col, self.half_life)
        d.ref, d.sw, d.swx = self.ref, self.sw, self.swx
        return d


def _factor(s: Decayed, t: float) -> float:
    return 0.0 if s.ref is None else 2.0 ** ((s.ref - t) / s.half_life)


def get_decayed_count(s: Decayed, t: float) -> float:
    return s.sw * _factor(s, t)


def get_decayed_sum(s: Decayed, t: float) -> float:
    return s.swx * _factor(s, t)


def get_decayed_mean(s: Decayed, t: float) -> float | None:
    return s.swx / s.sw if s.sw > 0.0 else None
