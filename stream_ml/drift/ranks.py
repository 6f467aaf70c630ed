"""Vectorized two-sample rank statistics (Kolmogorov-Smirnov and Cramér-von Mises).

Every function works row-wise on 2-D arrays: one row per monitored feature (in a detector) or
one row per simulated run (in calibration), so a single numpy call serves all of them.

Two kernels:

* :func:`merged_statistics` sorts the pooled sample of each row and returns exactly the values of
  :func:`scipy.stats.ks_2samp` and :func:`scipy.stats.cramervonmises_2samp` (ties included: the
  KS difference is read at the end of each tie group, the CvM statistic uses mid-ranks). It is
  what detectors call at a check.
* :func:`slot_statistics` computes the same statistics without sorting when the window is given
  as *slots* (how many reference values lie below each window value) against a tie-free
  reference. It is what the calibration simulation calls thousands of times.

References: Anderson, T. W. (1962). On the distribution of the two-sample Cramér-von Mises
criterion. Ann. Math. Statist. 33(3). Hodges, J. L. (1958). The significance probability of the
Smirnov two-sample test. Arkiv för Matematik 3.

>>> import numpy as np
>>> ref = np.array([[0.1, 0.4, 0.7, 0.9]])
>>> win = np.array([[0.5, 0.6, 0.95]])
>>> ks, cvm = merged_statistics(ref, win)
>>> float(ks[0]), round(float(cvm[0]), 6)  # as scipy.stats.ks_2samp, cramervonmises_2samp
(0.5, 0.119048)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["atom_statistics", "merged_statistics", "slot_statistics"]

Array = NDArray[np.float64]
_SCIPY_EXACT_MAX = 10_000


def merged_statistics(
    ref_sorted: Array, win: Array, *, cvm: bool = True, ks: bool = True
) -> tuple[Array, Array]:
    """Row-wise KS and CvM statistics of ``ref_sorted`` (r, n; rows sorted) against ``win`` (r, m).

    Equal to scipy's ``ks_2samp(...).statistic`` and ``cramervonmises_2samp(...).statistic``
    bit for bit (the same integer counts, the same divisions). A statistic not asked for is
    returned as an empty array.
    """
    r, n = ref_sorted.shape
    m = win.shape[1]
    z = np.concatenate([ref_sorted, win], axis=1)
    order = np.argsort(z, axis=1, kind="stable")
    zs = np.take_along_axis(z, order, axis=1)
    is_ref = order < n
    cum_ref = np.cumsum(is_ref, axis=1)
    size = n + m
    pos = np.arange(1, size + 1)
    cum_win = pos - cum_ref
    last = np.empty((r, size), dtype=bool)
    np.not_equal(zs[:, 1:], zs[:, :-1], out=last[:, :-1])
    last[:, -1] = True
    no_ties = bool(last.all())
    empty = np.empty(0)
    d = empty
    if ks:
        # |F_ref - F_win| * n * m as exact integers; scipy reports h / lcm(n, m) (its exact
        # method, used up to 10_000 values) and the float difference beyond that.
        gap = np.abs(cum_ref * m - cum_win * n)
        if not no_ties:
            gap[~last] = 0
        g = math.gcd(n, m)
        h = gap.max(axis=1) // g
        if max(n, m) <= _SCIPY_EXACT_MAX:
            d = h * 1.0 / ((n // g) * m)
        else:
            d = np.where(last, np.abs(cum_ref / n - cum_win / m), 0.0).max(axis=1)
    t = empty
    if cvm:
        if no_ties:
            rank = np.broadcast_to(pos.astype(np.float64), (r, size))
        else:
            idx = np.arange(size)
            first = np.empty((r, size), dtype=bool)
            first[:, 0] = True
            first[:, 1:] = last[:, :-1]
            start = np.maximum.accumulate(np.where(first, idx, 0), axis=1)
            end = np.minimum.accumulate(np.where(last, idx, size)[:, ::-1], axis=1)[:, ::-1]
            rank = (start + end) / 2.0 + 1.0
        own = np.where(is_ref, cum_ref, cum_win)
        sq = (rank - own) ** 2
        u = n * np.where(is_ref, sq, 0.0).sum(axis=1) + m * np.where(is_ref, 0.0, sq).sum(axis=1)
        k, big_n = n * m, n + m
        t = u / (k * big_n) - (4 * k - 1) / (6 * big_n)
    return d, t


def slot_statistics(slots: NDArray[np.intp], n: int, *, stat: str) -> Array:
    """Row-wise KS (``stat="ks"``) or CvM (``stat="cvm"``) from window slots.

    ``slots`` (r, m) holds, for each window value, how many of the ``n`` (tie-free) reference
    values lie below it (0..n). Window values never tie with reference values.
    """
    r, m = slots.shape
    width = n + 1
    flat = (slots + (np.arange(r) * width)[:, None]).ravel()
    h = np.bincount(flat, minlength=r * width).reshape(r, width)
    cum = np.cumsum(h, axis=1, dtype=np.int64)
    if stat == "ks":
        # (F_win - F_ref) * n * m at each gap is cum * n - r * m; at the reference value that
        # closes gap r it is that minus m. The last gap is 0, so the supremum is:
        diff = cum * n - np.arange(width) * m
        top = np.maximum(diff.max(axis=1), m - diff[:, :-1].min(axis=1))
        g = math.gcd(n, m)
        return (top // g) * 1.0 / ((n // g) * m)
    below = cum[:, :-1].astype(np.float64)
    gap_rank = np.arange(width, dtype=np.float64) ** 2
    u = n * np.einsum("ij,ij->i", below, below) + m * (h @ gap_rank)
    k, big_n = n * m, n + m
    return u / (k * big_n) - (4 * k - 1) / (6 * big_n)


def atom_statistics(
    ref_counts: NDArray[np.int64], win_counts: NDArray[np.int64], *, stat: str
) -> Array:
    """Row-wise KS or CvM when both samples live on the same finite set of atoms (ties allowed).

    ``ref_counts`` and ``win_counts`` are (r, K) counts per atom, atoms in increasing order.
    The CvM statistic uses mid-ranks as scipy does.
    """
    n = ref_counts.sum(axis=1, keepdims=True)
    m = win_counts.sum(axis=1, keepdims=True)
    cr = np.cumsum(ref_counts, axis=1)
    cw = np.cumsum(win_counts, axis=1)
    if stat == "ks":
        return np.abs(cr * m - cw * n).max(axis=1) / (n[:, 0] * m[:, 0])
    rc = ref_counts.astype(np.float64)
    wc = win_counts.astype(np.float64)
    tot = rc + wc
    below_all = np.cumsum(tot, axis=1) - tot
    mid = below_all + (tot + 1.0) / 2.0

    def part(c: Array, q: Array) -> Array:
        # sum over q'=1..q of (c - q')**2
        return q * c**2 - c * q * (q + 1.0) + q * (q + 1.0) * (2.0 * q + 1.0) / 6.0

    u = n[:, 0] * part(mid - (cr - rc), rc).sum(axis=1)
    u = u + m[:, 0] * part(mid - (cw - wc), wc).sum(axis=1)
    k, big_n = n[:, 0] * m[:, 0], n[:, 0] + m[:, 0]
    return u / (k * big_n) - (4 * k - 1) / (6 * big_n)
