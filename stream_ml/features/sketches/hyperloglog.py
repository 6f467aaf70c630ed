"""Legacy: the hand-written HyperLogLog of feature states pickled before the DataSketches switch.

New states never use it (:class:`~stream_ml.features.sketches.HllCount` replaced it); it stays so
that a snapshot taken before then restores, and its all-time distinct counts go on as they were
(on this sketch, which does not merge with the new one). Values are hashed with a process-stable
64-bit BLAKE2b of their ``repr``; ``2 ** p`` one-byte registers, relative standard error about
``1.04 / sqrt(2 ** p)`` [^1].

[^1]: Flajolet, P., Fusy, E., Gandouet, O. and Meunier, F. (2007). HyperLogLog: the analysis of a
near-optimal cardinality estimation algorithm. AofA 2007, DMTCS Proceedings, 137-156.

>>> h = HyperLogLog(p=12)
>>> for i in range(20000):
...     h.update(f"card-{i % 5000}")
>>> abs(h.get() - 5000) / 5000 < 0.05
True
"""

from __future__ import annotations

import hashlib
import math
from typing import Any


def stable_hash64(value: Any) -> int:
    """A 64-bit hash of ``repr(value)`` that is the same in every process."""
    return int.from_bytes(hashlib.blake2b(repr(value).encode(), digest_size=8).digest(), "little")


class HyperLogLog:
    """Approximate number of distinct values, in ``2 ** p`` bytes."""

    __slots__ = ("p", "registers")

    def __init__(self, p: int = 12) -> None:
        if not 4 <= p <= 16:
            raise ValueError("p must be between 4 and 16")
        self.p = p
        self.registers = bytearray(1 << p)

    def update(self, value: Any) -> None:
        h = stable_hash64(value)
        p = self.p
        idx = h & ((1 << p) - 1)
        rest = h >> p
        rank = (64 - p) - rest.bit_length() + 1
        if rank > self.registers[idx]:
            self.registers[idx] = rank

    def update_many(self, values: Any) -> None:
        for v in values:
            self.update(v)

    def merge(self, other: HyperLogLog) -> None:
        """Union with another sketch of the same precision."""
        regs = self.registers
        for i, r in enumerate(other.registers):
            if r > regs[i]:
                regs[i] = r

    def get(self) -> float:
        m = len(self.registers)
        alpha = 0.7213 / (1 + 1.079 / m)
        z = sum(2.0**-r for r in self.registers)
        est = alpha * m * m / z
        zeros = self.registers.count(0)
        if est <= 2.5 * m and zeros:
            est = m * math.log(m / zeros)
        return est

    def copy(self) -> HyperLogLog:
        h = HyperLogLog(self.p)
        h.registers = bytearray(self.registers)
        return h
