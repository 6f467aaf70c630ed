"""The shared machinery of the rank detectors (KS, CvM): checks and stationary simulation.

Simulation draws whole stationary streams (a reference of ``reference_size`` values, then the
monitored stream) for many runs at once. With a pool (the detector's own reference) rows are
bootstrapped jointly, which keeps the dependence between columns; a tie-free column is then
replaced by its jittered rank ``(rank + U) / n`` (a smoothed bootstrap: exactly uniform, hence
exact for a rank statistic), while a column with ties keeps its atoms, so ties are simulated as
they will occur. Without a pool every column is an independent uniform.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift import calibration as cal
from stream_ml.drift.base import WindowedDetector
from stream_ml.drift.ranks import atom_statistics, merged_statistics, slot_statistics

__all__ = ["RankDetector"]

Array = NDArray[np.float64]
_CHUNK_CELLS = 4_000_000


class RankDetector(WindowedDetector):
    """Base of the rank detectors (:class:`~stream_ml.drift.ks.KSDetector`, CvMDetector)."""

    _rank_based = True
    _stat = "ks"

    def _prepare(self, ref: Array) -> Array:
        return np.sort(ref, axis=1)

    def _statistics(self, prepared: Any, win: Array) -> Array:
        ks, cvm = merged_statistics(prepared, win, ks=self._stat == "ks", cvm=self._stat == "cvm")
        return ks if self._stat == "ks" else cvm

    @classmethod
    def _simulate(
        cls,
        spec: cal.Spec,
        n_runs: int,
        n_checks: int,
        rng: np.random.Generator,
        pool: Array | None = None,
    ) -> Array:
        n, k, d = spec.reference_size, spec.check_every, spec.n_features
        prefix = n if spec.reference == "fixed" else 0  # the fixed reference comes first
        length = prefix + spec.warmup + (n_checks - 1) * k
        columns = _Columns(pool, d)
        out = np.full((n_runs, n_checks), -np.inf)
        chunk = max(1, _CHUNK_CELLS // (length * d))
        for lo in range(0, n_runs, chunk):
            b = min(chunk, n_runs - lo)
            rows = columns.draw_rows(rng, b, length)
            for f in range(d):
                values, continuous = columns.values(f, rows, rng)
                if spec.reference == "lagged":
                    stats = _lagged(values, spec, n_checks, cls._stat)
                elif continuous:
                    stats = _fixed_continuous(values, spec, n_checks, cls._stat)
                else:
                    stats = _fixed_atoms(values.astype(np.intp), columns.n_atoms(f), spec,
                                         n_checks, cls._stat)  # fmt: skip
                np.maximum(out[lo : lo + b], stats, out=out[lo : lo + b])
        return out


class _Columns:
    """Draws simulated values column by column from a pool (or uniforms without one)."""

    def __init__(self, pool: Array | None, d: int) -> None:
        self.pool = pool
        self._ranks: list[Any] = []
        if pool is None:
            return
        for f in range(d):
            col = pool[f]
            atoms, codes = np.unique(col, return_inverse=True)
            if len(atoms) == len(col):
                self._ranks.append((True, np.argsort(np.argsort(col)), len(col)))
            else:
                self._ranks.append((False, codes, len(atoms)))

    def draw_rows(self, rng: np.random.Generator, b: int, length: int) -> Any:
        if self.pool is None:
            return (b, length)
        return rng.integers(0, self.pool.shape[1], size=(b, length))

    def values(self, f: int, rows: Any, rng: np.random.Generator) -> tuple[Array, bool]:
        if self.pool is None:
            return rng.random(rows), True
        continuous, codes, size = self._ranks[f]
        picked = codes[rows]
        if continuous:
            return (picked + rng.random(picked.shape)) / size, True
        return picked.astype(np.float64), False

    def n_atoms(self, f: int) -> int:
        return int(self._ranks[f][2])


def _fixed_continuous(u: Array, spec: cal.Spec, n_checks: int, stat: str) -> Array:
    n, m, k = spec.reference_size, spec.window_size, spec.check_every
    b = u.shape[0]
    ref = np.sort(u[:, :n], axis=1)
    stream = u[:, n:]
    offset = np.arange(b)[:, None].astype(np.float64)
    slots = np.searchsorted((ref + offset).ravel(), (stream + offset).ravel())
    slots = slots.reshape(stream.shape) - (np.arange(b) * n)[:, None]
    out = np.empty((b, n_checks))
    for j in range(n_checks):
        end = m + j * k
        out[:, j] = slot_statistics(slots[:, end - m : end], n, stat=stat)
    return out


def _fixed_atoms(codes: NDArray[np.intp], n_atoms: int, spec: cal.Spec, n_checks: int,
                 stat: str) -> Array:  # fmt: skip
    n, m, k = spec.reference_size, spec.window_size, spec.check_every
    b = codes.shape[0]
    base = (np.arange(b) * n_atoms)[:, None]

    def counts(block: NDArray[np.intp]) -> NDArray[np.int64]:
        flat = (block + base).ravel()
        return np.bincount(flat, minlength=b * n_atoms).reshape(b, n_atoms)

    ref_counts = counts(codes[:, :n])
    stream = codes[:, n:]
    out = np.empty((b, n_checks))
    for j in range(n_checks):
        end = m + j * k
        out[:, j] = atom_statistics(ref_counts, counts(stream[:, end - m : end]), stat=stat)
    return out


def _lagged(u: Array, spec: cal.Spec, n_checks: int, stat: str) -> Array:
    n, m, k, lag = spec.reference_size, spec.window_size, spec.check_every, spec.lag
    out = np.empty((u.shape[0], n_checks))
    for j in range(n_checks):
        end = spec.warmup + j * k
        ref = np.sort(u[:, end - m - lag - n : end - m - lag], axis=1)
        ks, cvm = merged_statistics(ref, u[:, end - m : end], ks=stat == "ks", cvm=stat == "cvm")
        out[:, j] = ks if stat == "ks" else cvm
    return out
