"""Interleaving and multileaving of rankings, with click credit.

One module per method: :mod:`.team_draft` (Radlinski et al. 2008; multileaving by Schuth et al.
2014), :mod:`.balanced` (Joachims 2003), :mod:`.probabilistic` (Hofmann et al. 2011; probabilistic
multileaving by Schuth et al. 2015), and the router that runs them, :mod:`.router`.
"""

from __future__ import annotations

from stream_ml.experiments.interleaving.balanced import Balanced
from stream_ml.experiments.interleaving.base import Credit, Interleaved
from stream_ml.experiments.interleaving.probabilistic import Probabilistic
from stream_ml.experiments.interleaving.router import (
    InterleavingConfig,
    InterleavingRouter,
    make_method,
)
from stream_ml.experiments.interleaving.team_draft import TeamDraft

__all__ = [
    "Balanced",
    "Credit",
    "Interleaved",
    "InterleavingConfig",
    "InterleavingRouter",
    "Probabilistic",
    "TeamDraft",
    "make_method",
]
