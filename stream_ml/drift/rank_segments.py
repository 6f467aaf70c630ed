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
from stream_ml.drift.dependence import ar1_uniforms, stationary_indices
from stream_ml.drift.ranks import atom_statistics, merged_statistics, slot_statistics
from stream_ml.drift.segments import Segments, offset_bincount, windows

__all__ = ["RankSegments", "has_ties"]

Array = NDArray[np.float64]


def has_ties(pool: Array) -> bool:
    """Whether any column (row of ``pool``, shape (d, n)) holds a value twice."""
    return not bool(np.all(np.diff(np.sort(pool, axis=1), axis=1) > 0))


class RankSegments(Segments):
    """KS or CvM (``stat``) on stationary streams drawn from ``pool`` (d, N), or uniforms."""

    def __init__(self, spec: Spec, stat: str, pool: Array | None = None,
                 mean_block: float = 1.0, ar: Array | None = None) -> None:  # fmt: skip
        super().__init__(spec)
        self.stat = stat
        self.mean_block = float(mean_block) if pool is not None else 1.0
        #: per column AR(1) coefficients of the Gaussian-copula sieve (None: resample rows)
        self.phi = None if ar is None or pool is None else np.asarray(ar, dtype=np.float64)
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
        # fixed policy, columns with ties: every run compares against the live reference's own
        # counts, with windows drawn from a per-run surrogate of the distribution (a bootstrap
        # resample of the reference); see the module docstring
        self.conditional = self.fixed and bool(self.atoms) and self.phi is None
        self.sorted_codes = [np.sort(col[1]) if col[1] is not None else None
                             for col in self.columns]  # fmt: skip
        if self.conditional:
            live = np.stack([np.bincount(np.asarray(self.columns[f][1]), minlength=self.n_atoms)
                             for f in self.atoms])  # fmt: skip
            self.live_counts = live[None].astype(np.int64)  # (1, atom columns, atoms)
        per_atom = 3 if stat == "ks" else 8
        width = sum(n + m for c, _, _ in self.columns if c)
        width += len(self.atoms) * (2 * m + per_atom * self.n_atoms)
        self.cost = max(1, width if self.fixed else 4 * d * (n + m))
        self.overhead = 5_000 + (10_000 if self.atoms else 0)

    def _values(self, f: int, rows: Any, shape: tuple[int, int], rng: np.random.Generator) -> Array:
        if isinstance(rows, list):  # the sieve drew every column's values already
            return rows[f]
        continuous, codes, size = self.columns[f]
        if codes is None:
            return rng.random(shape)
        picked = codes[rows]
        if continuous:
            return (picked + rng.random(shape)) / size
        return picked.astype(np.float64)

    def _index(self, b: int, t: int, rng: np.random.Generator, state: dict[str, Any],
               key: str) -> NDArray[np.intp]:  # fmt: skip
        """Indices into the pool (or a surrogate), i.i.d. or by the stationary bootstrap."""
        if self.mean_block <= 1.0:
            return rng.integers(0, self.n_pool, size=(b, t))
        idx = stationary_indices(rng, self.n_pool, (b, t), self.mean_block, state.get(key))
        state[key] = idx[:, -1].copy()
        return idx

    def _rows(self, b: int, t: int, rng: np.random.Generator, state: dict[str, Any]) -> Any:
        if self.phi is not None:
            return self._sieve(b, t, rng, state)
        return None if self.n_pool == 0 else self._index(b, t, rng, state, "prev")

    def _sieve(self, b: int, t: int, rng: np.random.Generator,
               state: dict[str, Any]) -> list[Array]:  # fmt: skip
        """Each column's values (b, t) from its Gaussian-copula AR(1), continuing ``state``."""
        assert self.phi is not None
        last = state.get("z")
        out, new = [], []
        for f, (continuous, _, _) in enumerate(self.columns):
            u, z = ar1_uniforms(rng, np.full(b, self.phi[f]), (b, t),
                                None if last is None else last[f])  # fmt: skip
            new.append(z)
            if not continuous:  # the pool's atoms by its empirical quantile function
                codes = self.sorted_codes[f]
                assert codes is not None
                u = codes[np.minimum((u * self.n_pool).astype(np.intp),
                                     self.n_pool - 1)].astype(np.float64)  # fmt: skip
            out.append(u)
        state["z"] = new
        return out

    def start(self, b: int, rng: np.random.Generator) -> dict[str, Any]:
        state: dict[str, Any] = {"b": b, "ref": None, "tail": None, "t": 0}
        if self.fixed:
            state["ref"] = self._reference(b, rng, state)
        return state

    def reference(self, b: int, rng: np.random.Generator) -> list[Any]:
        return self._reference(b, rng, {})

    def _reference(self, b: int, rng: np.random.Generator, state: dict[str, Any]) -> list[Any]:
        n = self.spec.reference_size
        rows = self._rows(b, n, rng, state)
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
        if self.conditional:
            counts = np.broadcast_to(self.live_counts, counts.shape).copy()
            out.append(counts)
            out.append(self._index(b, self.n_pool, rng, {}, "surrogate"))  # surrogates
        else:
            out.append(counts)  # the atom columns' reference counts, (b, atom columns, atoms)
        return out

    def draw(self, ref: Any, b: int, t: int, rng: np.random.Generator) -> NDArray[Any]:
        return self.draw_for({"ref": ref, "b": b}, t, rng)

    def draw_for(self, state: dict[str, Any], t: int, rng: np.random.Generator) -> NDArray[Any]:
        ref, b = state["ref"], state["b"]
        rows = self._rows(b, t, rng, state)
        d, n = self.spec.n_features, self.spec.reference_size
        out = np.empty((b, d, t), dtype=np.intp if self.fixed else np.float64)
        surrogate = None
        if self.conditional:  # the atom columns' rows: rows of each run's surrogate
            at = self._index(b, t, rng, state, "prev_surrogate")
            surrogate = np.take_along_axis(ref[-1], at, axis=1)
        for f, (continuous, _, _) in enumerate(self.columns):
            vals = self._values(f, rows if continuous or surrogate is None else surrogate,
                                (b, t), rng)  # fmt: skip
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
        d_ref = spec.n_features  # the atom columns' reference counts in ``ref``
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
                counts = np.repeat(ref[d_ref], c, axis=1).reshape(-1, self.n_atoms)
                s = atom_statistics(counts, offset_bincount(win.astype(np.intp), self.n_atoms),
                                    stat=self.stat)  # fmt: skip
            else:
                r = np.sort(windows(buf[:, self.atoms], ends - m - lag, n).reshape(-1, n), axis=1)
                ks, cvm = merged_statistics(r, win, ks=self.stat == "ks", cvm=self.stat == "cvm")
                s = ks if self.stat == "ks" else cvm
            np.maximum(out, s.reshape(b, da, c).max(axis=1), out=out)
        return out
