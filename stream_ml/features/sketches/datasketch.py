"""Apache DataSketches [^1] behind the two all-time sketch aggregates: picklable, mergeable.

:class:`HllCount` wraps ``hll_sketch`` (HyperLogLog, ``HLL_8``: one byte per register,
``2 ** lg_k`` registers). Its estimate is the library's HIP estimator; the relative standard error
is ``hll_sketch.get_rel_err(True, False, lg_k, 1)``, 1.29 % at ``lg_k = 12`` (the old hand-written
sketch's ``p``; 2.56 % at two standard errors, 3.79 % at three). A merged sketch reads the
composite estimator, ``get_rel_err(True, True, lg_k, 1)`` = 1.62 %. Values are hashed by the
library (MurmurHash3, fixed seed), never by the salted built-in ``hash``: after :func:`canonical`
(``True``, ``1`` and ``1.0`` are one value, as in a Python set) strings, 64-bit integers and
floats go in as such, anything else as its ``repr``.

:class:`TDigestQuantiles` wraps ``tdigest_double`` (Dunning and Ertl's merging t-digest,
compression ``k``). The library's KLL sketch has a proven rank error but draws its compaction
coin from a process-wide C++ generator seeded from the OS (the Python binding exposes no seed):
the same 5,000 values give a different sketch on each run, in one process. The t-digest is
deterministic, so a feature stage stays a function of its input (same input, same bytes; a
snapshot restored and continued gives the uninterrupted run's values). Its error is empirical
(no bound is proven; the library says so): measured rank error ``|F_n(estimate) - q|`` at
``k = 200`` is below 0.025 for q in [0.01, 0.99] on the distributions of
``tests/features/test_sketches_accuracy.py``, smaller towards the tails. Each update is followed by
``compress()``, so the library's internal buffer is empty between calls: reading and
serializing never change the state, and a snapshot cannot change what comes after it.

Both pickle through the library's ``serialize``/``deserialize`` (``__getstate__``/``__setstate__``)
and merge another sketch of the same kind (:meth:`merge`), so per-worker states can be combined.

[^1]: Apache DataSketches, https://datasketches.apache.org (``datasketches`` on PyPI).

>>> h = HllCount()
>>> for i in range(20000):
...     h.update(f"card-{i % 5000}")
>>> abs(h.get() - 5000) / 5000 < 3 * h.rel_err()
True
>>> q = TDigestQuantiles()
>>> for i in range(1001):
...     q.update(float(i))
>>> abs(q.get(0.5) - 500) < 25
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from datasketches import HLL_8, hll_sketch, hll_union, tdigest_double

LG_K = 12
TDIGEST_K = 200
_I64 = 1 << 63


def canonical(value: Any) -> str | int | float:
    """What :class:`HllCount` hashes for ``value``: equal Python scalars give the same item."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -_I64 <= value < _I64 else f"\x00int:{value}"
    if isinstance(value, float):
        if value.is_integer() and -_I64 <= value < _I64:
            return int(value)
        return value
    return f"\x00{type(value).__name__}:{value!r}"


class HllCount:
    """Approximate number of distinct values: a DataSketches HLL sketch of ``2 ** lg_k`` bytes."""

    __slots__ = ("lg_k", "sketch")

    def __init__(self, lg_k: int = LG_K) -> None:
        self.lg_k = lg_k
        self.sketch = hll_sketch(lg_k, HLL_8)

    def update(self, value: Any) -> None:
        self.sketch.update(canonical(value))

    def update_many(self, values: Iterable[Any]) -> None:
        up = self.sketch.update
        for v in values:
            up(canonical(v))

    def get(self) -> float:
        return self.sketch.get_estimate()

    def rel_err(self, num_std_devs: int = 1, merged: bool = False) -> float:
        """The library's a-priori relative error bound at ``num_std_devs`` standard errors."""
        return abs(self.sketch.get_rel_err(True, merged, self.lg_k, num_std_devs))

    def merge(self, other: HllCount) -> None:
        """Union with ``other`` (the result has the smaller ``lg_k`` of the two)."""
        u = hll_union(max(self.lg_k, other.lg_k))
        u.update(self.sketch)
        u.update(other.sketch)
        self.sketch = u.get_result(HLL_8)
        self.lg_k = self.sketch.lg_config_k

    def copy(self) -> HllCount:
        h = HllCount.__new__(HllCount)
        h.lg_k = self.lg_k
        h.sketch = hll_sketch.deserialize(self.sketch.serialize_updatable())
        return h

    def __getstate__(self) -> tuple[int, bytes]:
        return (self.lg_k, self.sketch.serialize_updatable())

    def __setstate__(self, state: tuple[int, bytes]) -> None:
        self.lg_k, blob = state
        self.sketch = hll_sketch.deserialize(blob)


class TDigestQuantiles:
    """Approximate quantiles of the values: a DataSketches t-digest of compression ``k``."""

    __slots__ = ("digest", "k")

    def __init__(self, k: int = TDIGEST_K) -> None:
        self.k = k
        self.digest = tdigest_double(k)

    def update(self, value: float) -> None:
        d = self.digest
        d.update(float(value))
        d.compress()

    def update_many(self, values: Iterable[float]) -> None:
        d = self.digest
        for v in values:
            d.update(float(v))
        d.compress()

    def get(self, q: float) -> float:
        return self.digest.get_quantile(q)

    def merge(self, other: TDigestQuantiles) -> None:
        d = self.digest
        d.merge(other.digest)
        d.compress()

    def copy(self) -> TDigestQuantiles:
        t = TDigestQuantiles.__new__(TDigestQuantiles)
        t.k = self.k
        t.digest = copy.copy(self.digest)
        return t

    def __getstate__(self) -> tuple[int, bytes]:
        return (self.k, self.digest.serialize())

    def __setstate__(self, state: tuple[int, bytes]) -> None:
        self.k, blob = state
        self.digest = tdigest_double.deserialize(blob)
