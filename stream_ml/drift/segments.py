"""Stationary streams simulated a few checks at a time, for amortized calibration.

A calibration simulates the detector itself on many stationary runs (see
:mod:`stream_ml.drift.calibration`). To keep every detector call short, a run batch is advanced
by *segments*: :meth:`Segments.start` draws the reference of ``b`` runs, each
:meth:`Segments.advance` draws the events up to the next ``c`` checks and returns their
statistics, keeping only the last ``memory`` events (what a check needs) as the state. All state
is numpy arrays and ints, so a job pickles and resumes exactly; the random draws happen in a
fixed order for a fixed segmentation, so a run is a pure function of the seed and the sizes.

Each detector family supplies its subclass: :class:`~stream_ml.drift.rank_segments.RankSegments`
(KS, CvM), ``MMDSegments``, ``CategoricalSegments``. A subclass encodes events with time on the
last axis (``draw``), computes the statistics of the checks that end at given positions of a
buffer (``stats``), and states ``cost``, the work of one check of one run in array cells, which
sizes the segments to a budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_ml.drift.calibration import Spec

__all__ = ["Segments", "offset_bincount", "windows"]

Array = NDArray[np.float64]


class Segments:
    """Base of the segment simulators (see the module docstring)."""

    #: the work of one check of one run, in array cells (sizes segments to a budget)
    cost: int = 1
    #: the fixed work of one segment (numpy calls), in the same cells
    overhead: int = 5_000

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.fixed = spec.reference == "fixed"
        self.memory = spec.window_size if self.fixed else spec.warmup

    def start(self, b: int, rng: np.random.Generator) -> dict[str, Any]:
        """A batch of ``b`` runs: their references (fixed policy), nothing drawn yet."""
        return {"b": b, "ref": self.reference(b, rng) if self.fixed else None, "tail": None,
                "t": 0}  # fmt: skip

    def advance(self, state: dict[str, Any], j0: int, c: int, rng: np.random.Generator) -> Array:
        """Statistics (b, c) of checks ``j0 .. j0 + c - 1`` of the batch's runs."""
        spec = self.spec
        ends = spec.warmup + (j0 + np.arange(c)) * spec.check_every  # events after the reference
        new = self.draw_for(state, int(ends[-1]) - state["t"], rng)
        tail = state["tail"]
        buf = new if tail is None else np.concatenate([tail, new], axis=-1)
        pos = ends - (int(ends[-1]) - buf.shape[-1])  # the checks' ends as positions in buf
        out = self.stats(state["ref"], buf, pos)
        state["tail"] = np.ascontiguousarray(buf[..., -self.memory :])
        state["t"] = int(ends[-1])
        return out

    def draw_for(self, state: dict[str, Any], t: int, rng: np.random.Generator) -> NDArray[Any]:
        """The next ``t`` events of a batch (a subclass may keep more state in ``state``)."""
        return self.draw(state["ref"], state["b"], t, rng)

    # -- for subclasses ------------------------------------------------------------------
    def reference(self, b: int, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def draw(self, ref: Any, b: int, t: int, rng: np.random.Generator) -> NDArray[Any]:
        raise NotImplementedError

    def stats(self, ref: Any, buf: NDArray[Any], ends: NDArray[np.intp]) -> Array:
        raise NotImplementedError


def windows(buf: NDArray[Any], ends: NDArray[np.intp], size: int) -> NDArray[Any]:
    """The ``size`` values before each end, along the last axis: (..., len(ends), size)."""
    view = np.lib.stride_tricks.sliding_window_view(buf, size, axis=-1)
    return view[..., ends - size, :]


def offset_bincount(codes: NDArray[np.intp], width: int) -> NDArray[np.int64]:
    """Row-wise counts of ``codes`` (r, s) in 0..width-1: (r, width), one bincount call."""
    r = codes.shape[0]
    flat = (codes + (np.arange(r) * width)[:, None]).ravel()
    return np.bincount(flat, minlength=r * width).reshape(r, width)
