"""Balanced interleaving (Joachims 2003, "Evaluating retrieval performance using clickthrough
data", in Text Mining; credit rule as stated by Chapelle, Joachims, Radlinski & Yue 2012,
"Large-scale validation and analysis of interleaved search evaluation", ACM TOIS 30(1)).

A coin decides which of the two rankers goes first; the merged list then alternates between the
rankers' top-k prefixes so that at every cut-off the list holds the top ``ka`` of A and the top
``kb`` of B with ``|ka - kb| <= 1``. Credit: let ``d`` be the lowest clicked item in the list and
``k`` the smallest rank at which ``d`` appears in A or in B; A gets the clicks among A's top k,
B the clicks among B's top k; the ranker with more wins. Two rankers only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from stream_ml.experiments.interleaving.base import (
    Credit,
    Interleaved,
    Rankings,
    check_clicks,
    check_rankings,
    count_outcomes,
)


def balanced_from_coin(rankings: Rankings, a_first: bool, length: int) -> Interleaved:
    """Balanced interleaving with the coin given explicitly.

    >>> balanced_from_coin({"A": ["a", "b", "c"], "B": ["b", "c", "a"]}, True, 3).items
    ['a', 'b', 'c']
    """
    rankers = check_rankings(rankings)
    if len(rankers) != 2:
        raise ValueError("balanced interleaving takes exactly two rankings")
    ra, rb = rankers
    a, b = rankings[ra], rankings[rb]
    items: list[str] = []
    teams: dict[str, str] = {}
    ka = kb = 0
    while len(items) < length and (ka < len(a) or kb < len(b)):
        take_a = kb >= len(b) or (ka < len(a) and (ka < kb or (ka == kb and a_first)))
        if take_a:
            item, ka = a[ka], ka + 1
            owner = ra
        else:
            item, kb = b[kb], kb + 1
            owner = rb
        if item not in teams:
            teams[item] = owner
            items.append(item)
    ranks = {r: {item: i + 1 for i, item in enumerate(rankings[r])} for r in rankers}
    return Interleaved(items, teams, rankers, "balanced", state=ranks)


class Balanced:
    """Balanced interleaving of two rankers.

    Examples
    --------
    >>> il = balanced_from_coin({"A": ["a", "b", "c", "d"], "B": ["b", "e", "a", "f"]}, True, 4)
    >>> il.items
    ['a', 'b', 'e', 'c']
    >>> Balanced().credit(il, ["e"]).outcome("A", "B")
    'loss'
    """

    name = "balanced"

    def interleave(
        self, rankings: Rankings, rng: np.random.Generator, length: int | None = None
    ) -> Interleaved:
        """Merge two rankings; ``length`` defaults to the longer ranking."""
        n = length if length is not None else max(len(r) for r in rankings.values())
        return balanced_from_coin(rankings, bool(rng.random() < 0.5), n)

    def credit(self, interleaved: Interleaved, clicks: Iterable[str]) -> Credit:
        """Clicks within each ranker's top k, k set by the lowest click (see module docs)."""
        positions = check_clicks(interleaved, clicks)
        ra, rb = interleaved.rankers
        ranks = interleaved.state
        scores = {ra: 0.0, rb: 0.0}
        if positions:
            lowest = interleaved.items[positions[-1]]
            inf = len(interleaved.items) + max(len(ranks[ra]), len(ranks[rb])) + 1
            k = min(ranks[ra].get(lowest, inf), ranks[rb].get(lowest, inf))
            for p in positions:
                item = interleaved.items[p]
                scores[ra] += ranks[ra].get(item, inf) <= k
                scores[rb] += ranks[rb].get(item, inf) <= k
        return count_outcomes(scores, interleaved.rankers)
