"""Apache DataSketches [^1] behind the two all-time sketch aggregates: picklable, mergeable.

:class:`HllCount` wraps ``hll_sketch`` (HyperLogLog, ``HLL_8``: one byte per register,
``2 ** lg_k`` registers). Its estimate is the library's HIP estimator; the relative standard error
is ``hll_sketch.get_rel_err(True, False, lg_k, 1)``, 1.29 % at ``lg_k = 12`` (the old hand-written
sketch's ``p``; 2.56 % at two standard errors, 3.79 % at three). A merged sketch reads the
composite estimator, ``get_rel_err(True, True, lg_k, 1)`` = 1.62 %. Values are hashed by the
library (MurmurHash3, fixed seed), never by the salted built-in ``hash``: after :func:`canonical`
(``True``, ``1`` and ``1.0`` are one value, as in a Python set; numpy integers, floats and
booleans are converted to Python's first) strings, 64-bit integers and floats go in as such,
anything else as its ``repr``.

:class:`TDigestQuantiles` wraps ``tdigest_double`` (Dunning and Ertl's merging t-digest,
compression ``k``). The library's KLL sketch has a proven rank error but draws its compaction
coin from a process-wide C++ generator seeded from the OS (the Python binding exposes no seed):
the same 5,000 values give a different sketch on each run, in one process. The t-digest is
deterministic, so a feature stage stays a function of its input (same input, same bytes; a
snapshot restored and continued gives the uninterrupted run's values). Its error is empirical
(no bound is proven; the library says so): measured rank error ``|F_n(estimate) - q|`` at
``k = 200`` is below 0.025 for q in [0.01, 0.99] on the distributions of
``tests/features/test_sketches_accuracy.py``, smaller towards the tails. The library's internal
buffer is emptied (``compress()``) after every batch it is given, so serializing never changes
the state and a snapshot cannot change what comes after it.

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
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
from datasketches import HLL_8, hll_sketch, hll_union, tdigest_double

LG_K = 12
TDIGEST_K = 200
_I64 = 1 << 63


def canonical(value: Any) -> str | int | float:
    """What :class:`HllCount` hashes for ``value``: equal scalars give the same item, as they
    are one value in a Python set (what the exact stage counts). ``True`` is ``1``; numpy (and
    any other) integers are ``int``, numpy floats ``float`` (``np.int64(5)`` is ``5``,
    ``np.float32(2.5)`` is ``2.5``, ``np.float32(0.1)`` is not ``0.1``), ``np.True_`` is 1.

    >>> import numpy as np
    >>> canonical(np.int64(5)), canonical(np.float32(2.5)), canonical(np.True_), canonical(2.0)
    (5, 2.5, 1, 2)
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int | float):
        if isinstance(value, numbers.Integral):  # numpy integers
            value = int(value)
        elif isinstance(value, numbers.Real):  # numpy floats (np.float64 is a float)
            value = float(value)
        elif isinstance(value, np.bool_):
            return int(value)
        else:
            return f"\x00{type(value).__name__}:{value!r}"
    if isinstance(value, int):
        return value if -_I64 <= value < _I64 else f"\x00int:{value}"
    if value.is_integer() and -_I64 <= value < _I64:
        return int(value)
    return value if type(value) is float else float(value)


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
    """Approximate quantiles of the values: a DataSketches t-digest of compression ``k``.

    Values wait in ``pending`` (at most ``FLUSH`` of them) and go into the digest, with one
    ``compress()``, when it is read, merged, copied for a read or full: one merge pass per read
    rather than per value (a state that is only updated, such as the settled copy of a window
    with allowed lateness, pays one pass per ``FLUSH`` values). The digest's own buffer is always
    empty between calls, so serializing never changes it; ``pending`` is pickled with it.
    """

    __slots__ = ("digest", "k", "pending")

    FLUSH = 32

    def __init__(self, k: int = TDIGEST_K) -> None:
        self.k = k
        self.digest = tdigest_double(k)
        self.pending: list[float] = []

    def update(self, value: float) -> None:
        pending = self.pending
        pending.append(float(value))
        if len(pending) >= self.FLUSH:
            self._flush()

    def update_many(self, values: Iterable[float]) -> None:
        self.pending.extend(float(v) for v in values)
        self._flush()

    def _flush(self) -> None:
        d = self.digest
        for v in self.pending:
            d.update(v)
        d.compress()
        self.pending.clear()

    def get(self, q: float) -> float:
        if self.pending:
            self._flush()
        if self.digest.is_empty():
            return math.nan
        return self.digest.get_quantile(q)

    def merge(self, other: TDigestQuantiles) -> None:
        self.pending.extend(other.pending)
        self._flush()
        d = self.digest
        d.merge(other.digest)
        d.compress()

    def copy(self) -> TDigestQuantiles:
        t = TDigestQuantiles.__new__(TDigestQuantiles)
        t.k = self.k
        t.digest = copy.copy(self.digest)
        t.pending = self.pending.copy()
        return t

    def __getstate__(self) -> tuple[int, bytes, tuple[float, ...]]:
        return (self.k, self.digest.serialize(), tuple(self.pending))

    def __setstate__(self, state: tuple[int, bytes, tuple[float, ...]]) -> None:
        self.k, blob, pending = state
        self.digest = tdigest_double.deserialize(blob)
        self.pending = list(pending)
