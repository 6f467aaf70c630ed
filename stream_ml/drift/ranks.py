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
* :class:`ReferenceIndex` serves a detector with a fixed reference: each window value is coded
  once, when it enters the window (:meth:`ReferenceIndex.codes`: its place among the
  reference's distinct values, equal to one or strictly between two), and a check reads the
  statistics from the window's histogram of codes (:meth:`ReferenceIndex.statistics`), equal to
  scipy's as well, ties included: no sort of the pooled sample at each check.

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

import bisect
import math

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ReferenceIndex", "RunningCvM", "atom_statistics", "merged_statistics", "slot_statistics",
]  # fmt: skip

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


class ReferenceIndex:
    """A fixed reference (d, n) prepared for windows coded against it (see the module docstring).

    Row ``f`` has ``K_f`` distinct values ``v_1 < ... < v_K``. A window value's *code* is ``2k``
    when it lies strictly between ``v_k`` and ``v_(k+1)`` (``k = 0``: below ``v_1``; ``k = K``:
    above ``v_K``) and ``2k - 1`` when it equals ``v_k``: codes run over ``0 .. 2K`` and keep the
    order of the values. Given the histogram ``H`` (d, 2 max K + 1) of the window's codes,

    * KS: the ECDFs are constant between consecutive codes, so ``n m D`` is the largest
      ``|A m - B n|`` over the code positions, ``A`` the reference values and ``B`` the window
      values at or below the position (every position is a point of the pooled sample or gives
      0; the first window value of a gap lies between two positions' ``B`` at the same ``A``).
      Integer arithmetic, then scipy's rounding to ``h / lcm(n, m)``.
    * CvM (mid-ranks): a value's ``rank - own rank`` depends only on how many values of the
      other sample lie below it and on its tie group, so the sum of squares is a sum over codes:
      a reference atom with ``c`` copies and ``t`` window values equal to it contributes
      ``sum_(q=1..c) (W + (c + t + 1) / 2 - q)^2`` (``W`` window values below), its window
      values the same with the roles swapped, a window value strictly inside gap ``k``
      ``A_k^2``, plus ``(t^3 - t) / 12`` for each tie group of ``t`` window values inside a gap
      (read from the sorted window, only for CvM). Every term is a multiple of 1/4 below 2^50,
      so ``u`` is exact and the statistic is scipy's bit for bit (larger samples: ``None``, the
      caller uses :func:`merged_statistics`).

    >>> ref = np.array([[0.1, 0.4, 0.4, 0.9]])
    >>> win = np.array([[0.4, 0.6, 0.95]])
    >>> index = ReferenceIndex(ref)
    >>> codes = index.codes(win)
    >>> codes.tolist()
    [[3, 4, 6]]
    >>> hist = index.histogram(codes)
    >>> ks, cvm = merged_statistics(ref, win)  # as scipy's
    >>> index.statistics(hist, 3, "ks") == ks, index.statistics(hist, 3, "cvm", win) == cvm
    (array([ True]), array([ True]))
    """

    def __init__(self, ref_sorted: Array) -> None:
        d, n = ref_sorted.shape
        self.n = n
        # the rows are sorted: a distinct value starts where a row changes (no sort here)
        first = np.ones((d, n), dtype=bool)
        np.not_equal(ref_sorted[:, 1:], ref_sorted[:, :-1], out=first[:, 1:])
        starts = [np.flatnonzero(row) for row in first]
        atoms = [row[st] for row, st in zip(ref_sorted, starts, strict=True)]
        self.k = np.array([len(a) for a in atoms], dtype=np.intp)
        self.tie_free = bool((self.k == n).all())
        kmax = int(self.k.max())
        self.width = 2 * kmax + 1
        self.atoms = atoms
        self._sentinel = np.concatenate([np.r_[np.nan, a] for a in atoms])
        self._starts = np.concatenate([[0], np.cumsum(self.k + 1)[:-1]]).astype(np.intp)[:, None]
        # per row: copies of each atom (0 past K), reference values at or below each code
        counts = np.zeros((d, kmax), dtype=np.int64)
        for f, st in enumerate(starts):
            counts[f, : self.k[f]] = np.diff(st, append=n)
        self.counts = counts
        below = np.zeros((d, kmax + 1), dtype=np.int64)
        np.cumsum(counts, axis=1, out=below[:, 1:])
        self.below = below  # below[:, k]: reference values <= v_k (k = 0: none)
        self.at_code = below[:, (np.arange(self.width) + 1) // 2]  # A at each code position
        self._flat = (np.arange(d) * self.width)[:, None]
        self._below_sq = below.astype(np.float64) ** 2
        self._gap_sq = np.arange(kmax + 1, dtype=np.float64) ** 2  # k^2 for gap k
        self._at_m: tuple[int, NDArray[np.int64]] = (0, self.at_code)  # (m, at_code * m)

    def codes(self, block: Array) -> NDArray[np.intp]:
        """The codes (d, k) of the values ``block`` (d, k), one row per reference row."""
        d, k = block.shape
        hi = np.empty((d, k), dtype=np.intp)  # atoms of the row at or below each value
        for f in range(d):
            hi[f] = self.atoms[f].searchsorted(block[f], "right")
        # equal to the atom just below? (each row's atoms follow a NaN, which equals nothing)
        tie = self._sentinel[hi + self._starts] == block
        return 2 * hi - tie

    def histogram(self, codes: NDArray[np.intp]) -> NDArray[np.int64]:
        """Per row, the number of values with each code: (d, width)."""
        d = codes.shape[0]
        flat = (codes + self._flat).ravel()
        return np.bincount(flat, minlength=d * self.width).reshape(d, self.width)

    def statistics(self, hist: NDArray[np.int64], m: int, stat: str, win: Array | None = None,
                   codes: NDArray[np.intp] | None = None) -> Array | None:  # fmt: skip
        """KS or CvM of each row's window (histogram ``hist`` of its ``m`` codes).

        CvM needs the window's values ``win`` (d, m) and their ``codes`` (None: computed) for
        the ties between window values; it returns None when the samples are too large for
        exact float arithmetic.
        """
        n = self.n
        cum = np.cumsum(hist, axis=1)  # window values at or below each code
        if stat == "ks":
            if self._at_m[0] != m:
                self._at_m = (m, self.at_code * m)
            cum *= n
            np.subtract(self._at_m[1], cum, out=cum)
            gap = np.abs(cum, out=cum).max(axis=1)
            if max(n, m) <= _SCIPY_EXACT_MAX:
                g = math.gcd(n, m)
                return (gap // g) * 1.0 / ((n // g) * m)
            return np.abs(self.at_code / n - np.cumsum(hist, axis=1) / m).max(axis=1)
        if (n + m) ** 4 >= 2**50 or win is None:
            return None
        gaps = hist[:, 0::2]  # window values strictly inside gap k = 0..K
        at_atoms = hist[:, 1::2]  # window values equal to atom k = 1..K
        w_below = cum[:, 0:-1:2]  # window values below atom k (through gap k - 1)
        simple = self.tie_free and not at_atoms.any()
        if simple:
            # a reference value's rank - own rank is the window values below it; a window
            # value's, the reference values below it (k inside gap k)
            u_ref = np.einsum("ij,ij->i", w_below, w_below).astype(np.float64)
            u_win = gaps @ self._gap_sq
        else:
            c = self.counts.astype(np.float64)
            t = at_atoms.astype(np.float64)
            half = (c + t + 1.0) / 2.0
            a = w_below + half  # reference members: sum_q (a - q)^2, q = 1..c
            b = self.below[:, :-1] + half  # window members at the atom: q = 1..t
            u_ref = _squares(a, c).sum(axis=1)
            u_win = _squares(b, t).sum(axis=1) + np.einsum("ij,ij->i", gaps, self._below_sq)
        # ties between window values inside a gap (when no window value equals a reference
        # value, every one is inside a gap)
        if simple:
            codes = None
        elif codes is None:
            codes = self.codes(win)
        u_win = u_win + _window_ties(win, codes)
        u = n * u_ref + m * u_win
        k, big_n = n * m, n + m
        return u / (k * big_n) - (4 * k - 1) / (6 * big_n)


def _squares(a: Array, c: Array) -> Array:
    """sum_(q=1..c) (a - q)^2, elementwise (c copies, rank offset a)."""
    return c * a * a - a * c * (c + 1.0) + c * (c + 1.0) * (2.0 * c + 1.0) / 6.0


def _window_ties(win: Array, codes: NDArray[np.intp] | None) -> Array:
    """Per row, sum of (t^3 - t) / 12 over the tie groups of window values inside gaps.

    ``codes`` (None: no window value equals a reference value) marks the values equal to an
    atom (odd codes), whose ties are counted with the atom.
    """
    w = np.sort(win, axis=1)
    same = w[:, 1:] == w[:, :-1]
    out = np.zeros(win.shape[0])
    if not same.any():
        return out
    for f in np.flatnonzero(same.any(axis=1)):
        vals = win[f] if codes is None else win[f][codes[f] % 2 == 0]
        _, t = np.unique(vals, return_counts=True)
        t = t[t > 1].astype(np.float64)
        out[f] = float(((t * t * t - t) / 12.0).sum())
    return out


class RunningCvM:
    """CvM of a window against a tie-free fixed reference, updated one value at a time.

    For ``check_every = 1``: each update replaces the oldest window value by the new one, and
    the statistic follows from sums kept as exact integers, per row: ``u_win`` (the sum of the
    window values' squared slots, ``slot`` = reference values below), ``u_ref`` (the sum over
    reference values of the squared number of window values below) and ``t12`` (the sum of
    ``t^3 - t`` over tie groups of window values). A value entering with slot ``s`` adds one to
    the count below every reference value above it, so ``u_ref`` grows by ``2 S + (n - s)``
    with ``S = sum_w (n - max(s, slot_w))`` (one ``np.maximum`` over the window's codes); a
    value leaving takes ``2 S - (n - s)`` away. Then ``u = n u_ref + m (u_win + t12 / 12)``,
    exact, so the statistic is the one :meth:`ReferenceIndex.statistics` (and scipy) gives.
    The state holds only while no window value equals a reference value (odd code) and none is
    NaN; the detector rebuilds it from its rings (:meth:`rebuild`) or uses the histogram.
    """

    def __init__(self, index: ReferenceIndex, m: int) -> None:
        self.n, self.m = index.n, m
        self.atoms = [a.tolist() for a in index.atoms]
        d = len(self.atoms)
        self.u_ref = [0] * d
        self.u_win = [0] * d
        self.t12 = [0] * d
        self.counts: list[dict[float, int]] = [{} for _ in range(d)]
        self.ok = False

    def code(self, f: int, v: float) -> int:
        """The code of value ``v`` in row ``f`` (as :meth:`ReferenceIndex.codes`)."""
        atoms = self.atoms[f]
        hi = bisect.bisect_right(atoms, v)
        return 2 * hi - (1 if hi and atoms[hi - 1] == v else 0)

    def rebuild(self, codes: NDArray[np.intp], win: Array) -> bool:
        """The sums of the window (codes and values (d, m)); False if the state cannot hold."""
        if (codes & 1).any() or np.isnan(win).any():
            self.ok = False
            return False
        slots = codes >> 1
        n = self.n
        for f in range(len(self.atoms)):
            below = np.cumsum(np.bincount(slots[f], minlength=n + 1))[:n]
            self.u_ref[f] = int(below @ below)
            self.u_win[f] = int(slots[f] @ slots[f])
            counts: dict[float, int] = {}
            for v in win[f].tolist():
                counts[v] = counts.get(v, 0) + 1
            self.counts[f] = counts
            self.t12[f] = sum(t * t * t - t for t in counts.values() if t > 1)
        self.ok = True
        return True

    def replace(self, codes: NDArray[np.intp], pos: int, old: list[float],
                new: list[float]) -> list[int] | None:  # fmt: skip
        """Replace ring position ``pos`` (values ``old``) by ``new``; their codes (None: lost).

        ``codes`` is the ring of codes before the write; the caller writes the new codes.
        """
        d = len(new)
        nc = [self.code(f, new[f]) for f in range(d)]
        if any(c & 1 for c in nc) or any(v != v for v in new):
            self.ok = False
            return nc
        oc = codes[:, pos].tolist()
        if d == 1:  # sums of the larger code, with the leaving and the entering value's
            row = codes[0]
            tops = [[int(np.maximum(row, oc[0]).sum()), int(np.maximum(row, nc[0]).sum())]]
        else:
            q = np.empty((d, 1, 2), dtype=np.intp)
            q[:, 0, 0], q[:, 0, 1] = oc, nc
            tops = np.maximum(codes[:, :, None], q).sum(axis=1).tolist()
        n, m = self.n, self.m
        for f in range(d):
            so, sn = oc[f] >> 1, nc[f] >> 1
            s_old = n * m - tops[f][0] // 2
            self.u_ref[f] -= 2 * s_old - (n - so)
            self.u_win[f] -= so * so
            s_new = n * m - tops[f][1] // 2 - (n - max(sn, so))
            self.u_ref[f] += 2 * s_new + (n - sn)
            self.u_win[f] += sn * sn
            counts = self.counts[f]
            t = counts[old[f]]
            self.t12[f] -= 3 * t * t - 3 * t
            if t == 1:
                del counts[old[f]]
            else:
                counts[old[f]] = t - 1
            t = counts.get(new[f], 0)
            self.t12[f] += 3 * t * t + 3 * t
            counts[new[f]] = t + 1
        return nc

    def statistics(self) -> Array:
        n, m = self.n, self.m
        k, big_n = n * m, n + m
        c = (4 * k - 1) / (6 * big_n)
        return np.array([(12 * n * ur + m * (12 * uw + t)) / 12 / (k * big_n) - c
                         for ur, uw, t in zip(self.u_ref, self.u_win, self.t12, strict=True)])
