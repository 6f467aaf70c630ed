"""Stationary simulation of the rank detectors (KS, CvM), segment by segment.

Runs are whole stationary streams. With a pool (the detector's own reference) rows are
bootstrapped jointly, which keeps the dependence between columns; a tie-free column is replaced
by its jittered rank ``(rank + U) / n`` (a smoothed bootstrap: exactly uniform, hence exact for a
rank statistic), while a column with ties keeps its atoms, so ties are simulated as they will
occur. Without a pool every column is an independent uniform (the distribution-free case).

With the fixed policy a continuous column's events are encoded as *slots* (how many of the run's
reference values lie below), so a check is a ``bincount`` and a ``cumsum``
(:func:`~stream_ml.drift.ranks.slot_statistics`); a column with ties as atom codes, a check
being two counts (:func:`~stream_ml.drift.ranks.atom_statistics`). With the lagged policy the
values themselves are kept and each check sorts its reference window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift.calibration import Spec
from stream_ml.drift.ranks import atom_statistics, merged_statistics, slot_statistics
from stream_ml.drift.segments import Segments, offset_bincount, windows

__all__ = ["RankSegments", "has_ties"]

Array = NDArray[np.float64]


def has_ties(pool: Array) -> bool:
    """Whether any column (row of ``pool``, shape (d, n)) holds a value twice."""
    return not bool(np.all(np.diff(np.sort(pool, axis=1), axis=1) > 0))


class RankSegments(Segments):
    """KS or CvM (``stat``) on stationary streams drawn from ``pool`` (d, N), or uniforms."""

    def __init__(self, spec: Spec, stat: str, pool: Array | None = None) -> None:
        super().__init__(spec)
        self.stat = stat
        d, n, m = spec.n_features, spec.reference_size, spec.window_size
        self.n_pool = 0 if pool is None else int(pool.shape[1])
        # per column: (continuous, ranks or atom codes (N,), n or number of atoms)
        self.columns: list[tuple[bool, NDArray[np.intp] | None, int]] = []
        for f in range(d):
            if pool is None:
                self.columns.append((True, None, 0))
                continue
            atoms, codes = np.unique(pool[f], return_inverse=True)
            if len(atoms) == len(pool[f]):
                self.columns.append((True, np.argsort(np.argsort(pool[f])), len(atoms)))
            else:
                self.columns.append((False, codes.astype(np.intp), len(atoms)))
        # cells of work of one check: a slot column costs about its n + m cells; the atom
        # columns, computed together over the largest number of atoms, their windows plus per
        # atom a few (KS) or many (CvM: mid-ranks) array operations
        self.atoms = [f for f, col in enumerate(self.columns) if not col[0]]
        self.n_atoms = max([self.columns[f][2] for f in self.atoms], default=0)
        per_atom = 3 if stat == "ks" else 8
        width = sum(n + m for c, _, _ in self.columns if c)
        width += len(self.atoms) * (2 * m + per_atom * self.n_atoms)
        self.cost = max(1, width if self.fixed else 4 * d * (n + m))
        self.overhead = 5_000 + (10_000 if self.atoms else 0)

    def _values(self, f: int, rows: Any, shape: tuple[int, int], rng: np.random.Generator) -> Array:
        continuous, codes, size = self.columns[f]
        if codes is None:
            return rng.random(shape)
        picked = codes[rows]
        if continuous:
            return (picked + rng.random(shape)) / size
        return picked.astype(np.float64)

    def _rows(self, b: int, t: int, rng: np.random.Generator) -> Any:
        return None if self.n_pool == 0 else rng.integers(0, self.n_pool, size=(b, t))

    def reference(self, b: int, rng: np.random.Generator) -> list[Any]:
        n = self.spec.reference_size
        rows = self._rows(b, n, rng)
        out: list[Any] = []
        counts = np.zeros((b, len(self.atoms), self.n_atoms), dtype=np.int64)
        for f, (continuous, _, _) in enumerate(self.columns):
            vals = self._values(f, rows, (b, n), rng)
            if continuous:
                ref = np.sort(vals, axis=1) + np.arange(b)[:, None]  # rows apart for one search
                out.append(ref.ravel())
            else:
                out.append(None)
                counts[:, self.atoms.index(f)] = offset_bincount(vals.astype(np.intp),
                                                                 self.n_atoms)  # fmt: skip
        out.append(counts)  # the atom columns' reference counts, (b, atom columns, atoms)
        return out

    def draw(self, ref: Any, b: int, t: int, rng: np.random.Generator) -> NDArray[Any]:
        rows = self._rows(b, t, rng)
        d, n = self.spec.n_features, self.spec.reference_size
        out = np.empty((b, d, t), dtype=np.intp if self.fixed else np.float64)
        for f, (continuous, _, _) in enumerate(self.columns):
            vals = self._values(f, rows, (b, t), rng)
            if not self.fixed:
                out[:, f] = vals
            elif continuous:
                shifted = (vals + np.arange(b)[:, None]).ravel()
                slots = np.searchsorted(ref[f], shifted).reshape(b, t)
                out[:, f] = slots - (np.arange(b) * n)[:, None]
            else:
                out[:, f] = vals.astype(np.intp)
        return out

    def stats(self, ref: Any, buf: NDArray[Any], ends: NDArray[np.intp]) -> Array:
        spec = self.spec
        n, m, lag = spec.reference_size, spec.window_size, spec.lag
        b, c = buf.shape[0], len(ends)
        out = np.full((b, c), -np.inf)
        smooth = [f for f, col in enumerate(self.columns) if col[0]]
        if smooth:  # all continuous columns in one call: rows (run, column, check)
            win = windows(buf[:, smooth], ends, m).reshape(-1, m)
            if self.fixed:
                s = slot_statistics(win, n, stat=self.stat)
            else:
                r = np.sort(windows(buf[:, smooth], ends - m - lag, n).reshape(-1, n), axis=1)
                ks, cvm = merged_statistics(r, win, ks=self.stat == "ks", cvm=self.stat == "cvm")
                s = ks if self.stat == "ks" else cvm
            np.max(s.reshape(b, len(smooth), c), axis=1, out=out)
        if self.atoms:  # all atom columns in one call, over the largest number of atoms
            da = len(self.atoms)
            win = windows(buf[:, self.atoms], ends, m).reshape(-1, m)
            if self.fixed:
                counts = np.repeat(ref[-1], c, axis=1).reshape(-1, self.n_atoms)
                s = atom_statistics(counts, offset_bincount(win.astype(np.intp), self.n_atoms),
                                    stat=self.stat)  # fmt: skip
            else:
                r = np.sort(windows(buf[:, self.atoms], ends - m - lag, n).reshape(-1, n), axis=1)
                ks, cvm = merged_statistics(r, win, ks=self.stat == "ks", cvm=self.stat == "cvm")
                s = ks if self.stat == "ks" else cvm
            np.maximum(out, s.reshape(b, da, c).max(axis=1), out=out)
        return out
