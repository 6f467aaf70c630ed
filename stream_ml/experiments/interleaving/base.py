"""The records shared by interleaving methods: the merged list and the credit of clicks.

>>> c = Credit(scores={"a": 2.0, "b": 1.0}, outcomes={("a", "b"): 1.0})
>>> c.outcome("a", "b"), c.outcome("b", "a")
('win', 'loss')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from stream_ml.experiments.errors import UnknownClickError

Rankings = Mapping[str, Sequence[str]]


@dataclasses.dataclass(slots=True)
class Interleaved:
    """A merged list shown to the user.

    ``teams`` maps each shown item to the ranker that contributed it (for probabilistic
    interleaving: the ranker drawn for its position; credit marginalises over all of them).
    ``state`` holds what the method needs to credit clicks later (e.g. per-position posteriors).
    """

    items: list[str]
    teams: dict[str, str]
    rankers: tuple[str, ...]
    method: str
    state: Any = None
    seq: int = -1


@dataclasses.dataclass(slots=True)
class Credit:
    """Clicks credited to rankers.

    ``scores``: clicks credited to each ranker (expected clicks for probabilistic methods).
    ``outcomes``: for each pair ``(r, s)`` of rankers (in ``rankers`` order), the outcome in
    [-1, 1]: +1 when ``r`` won, -1 when ``s`` won (an expectation for probabilistic methods).
    """

    scores: dict[str, float]
    outcomes: dict[tuple[str, str], float]

    def outcome(self, r: str, s: str) -> str:
        """'win', 'loss' or 'tie' for ranker ``r`` against ranker ``s``."""
        o = self.outcomes[(r, s)] if (r, s) in self.outcomes else -self.outcomes[(s, r)]
        return "win" if o > 0 else "loss" if o < 0 else "tie"


class Method(Protocol):
    """An interleaving method."""

    name: str

    def interleave(
        self, rankings: Rankings, rng: np.random.Generator, length: int | None = None
    ) -> Interleaved: ...

    def credit(self, interleaved: Interleaved, clicks: Iterable[str]) -> Credit: ...


def check_clicks(interleaved: Interleaved, clicks: Iterable[str]) -> list[int]:
    """Positions of the clicked items (sorted, unique); an item not shown is a typed error."""
    pos = {item: i for i, item in enumerate(interleaved.items)}
    out = set()
    for c in clicks:
        if c not in pos:
            raise UnknownClickError(c)
        out.add(pos[c])
    return sorted(out)


def pairs(rankers: Sequence[str]) -> list[tuple[str, str]]:
    """All pairs ``(r, s)`` with ``r`` before ``s``."""
    return [(r, s) for i, r in enumerate(rankers) for s in rankers[i + 1 :]]


def count_outcomes(scores: Mapping[str, float], rankers: Sequence[str]) -> Credit:
    """Credit by comparing clicked counts pairwise (team draft, balanced)."""
    outcomes = {}
    for r, s in pairs(rankers):
        d = scores[r] - scores[s]
        outcomes[(r, s)] = 1.0 if d > 0 else -1.0 if d < 0 else 0.0
    return Credit(dict(scores), outcomes)


def check_rankings(rankings: Rankings) -> tuple[str, ...]:
    """Ranker names; each ranking must be a list of unique items."""
    if len(rankings) < 2:
        raise ValueError("interleaving needs at least two rankings")
    for name, ranking in rankings.items():
        if len(set(ranking)) != len(ranking):
            raise ValueError(f"ranking {name!r} repeats an item")
    return tuple(rankings)
