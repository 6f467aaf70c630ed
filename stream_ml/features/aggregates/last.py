"""Last value and time since the last event of a window.

The last event is the one with the largest event time; among equal times, the one that arrived
last. Removal only ever takes the oldest events of a window, so the last one leaves only when the
window empties: a count is all ``revert`` needs.

>>> s = LastValue(0)
>>> s.update(("a",), 1.0); s.update(("b",), 5.0); s.update(("c",), 3.0)
>>> get_last(s, 9.0), get_time_since(s, 9.0)
('b', 4.0)
"""

from __future__ import annotations

import math
from typing import Any


class LastValue:
    """Value and time of the latest event in the window (``col < 0``: time only)."""

    __slots__ = ("col", "n", "ts", "value")

    def __init__(self, col: int, param: Any = None) -> None:
        self.col = col
        self.n = 0
        self.ts = -math.inf
        self.value: Any = None

    def update(self, row: tuple, ts: float) -> None:
        self.n += 1
        if ts >= self.ts:
            self.ts = ts
            if self.col >= 0:
                self.value = row[self.col]

    def revert(self, row: tuple, ts: float) -> None:
        self.n -= 1
        if self.n <= 0:
            self.n = 0
            self.ts = -math.inf
            self.value = None

    def copy(self) -> LastValue:
        s = LastValue(self.col)
        s.n, s.ts, s.value = self.n, self.ts, self.value
        return s


def get_last(s: LastValue, t: float) -> Any:
    return s.value if s.n else None


def get_time_since(s: LastValue, t: float) -> float | None:
    return t - s.ts if s.n else None
