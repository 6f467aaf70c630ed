"""Team-draft interleaving (Radlinski, Kurup & Joachims 2008, "How does clickthrough data reflect
retrieval quality?", CIKM) and team-draft multileaving (Schuth, Sietsma, Whiteson, Lefortier &
de Rijke 2014, "Multileaved comparisons for fast online evaluation", CIKM).

In each round the rankers are put in a random order (for two rankers: a coin flip decides who
picks first) and each, in turn, adds its highest-ranked item not yet in the list to the list and
to its team. A click is credited to the team of the clicked item; a ranker wins a pair when its
team has more clicks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from stream_ml.experiments.interleaving.base import (
    Credit,
    Interleaved,
    Rankings,
    check_clicks,
    check_rankings,
    count_outcomes,
)


def team_draft_from_orders(
    rankings: Rankings, orders: Iterable[Sequence[str]], length: int
) -> Interleaved:
    """Team draft with the per-round picking orders given explicitly (the random part).

    >>> il = team_draft_from_orders({"A": ["a", "b", "c"], "B": ["b", "c", "a"]},
    ...                             [("A", "B"), ("B", "A")], 3)
    >>> il.items, il.teams
    (['a', 'b', 'c'], {'a': 'A', 'b': 'B', 'c': 'B'})
    """
    rankers = check_rankings(rankings)
    universe = {item for r in rankings.values() for item in r}
    length = min(length, len(universe))
    items: list[str] = []
    teams: dict[str, str] = {}
    ptr = dict.fromkeys(rankers, 0)
    for order in orders:
        for r in order:
            if len(items) >= length:
                break
            ranking, i = rankings[r], ptr[r]
            while i < len(ranking) and ranking[i] in teams:
                i += 1
            ptr[r] = i
            if i < len(ranking):
                teams[ranking[i]] = r
                items.append(ranking[i])
        if len(items) >= length:
            break
    return Interleaved(items, teams, rankers, "team_draft")


class TeamDraft:
    """Team-draft interleaving / multileaving.

    Examples
    --------
    >>> import numpy as np
    >>> td = TeamDraft()
    >>> il = td.interleave({"A": ["a", "b", "c", "d"], "B": ["b", "e", "a", "f"]},
    ...                    np.random.default_rng(0), length=4)
    >>> sorted(il.items) == sorted(il.teams), len(il.items)
    (True, 4)
    >>> clicked = [i for i in il.items if il.teams[i] == "A"][:1]
    >>> td.credit(il, clicked).outcome("A", "B")
    'win'
    """

    name = "team_draft"

    def interleave(
        self, rankings: Rankings, rng: np.random.Generator, length: int | None = None
    ) -> Interleaved:
        """Merge ``rankings`` (ranker -> items, best first) into one list of ``length`` items."""
        rankers = list(rankings)
        n = length if length is not None else max(len(r) for r in rankings.values())
        # Orders are drawn lazily, one per round actually played; rankers can run dry, so allow
        # as many rounds as there are items.
        rounds = sum(len(r) for r in rankings.values())
        orders = (tuple(rankers[i] for i in rng.permutation(len(rankers))) for _ in range(rounds))
        return team_draft_from_orders(rankings, orders, n)

    def credit(self, interleaved: Interleaved, clicks: Iterable[str]) -> Credit:
        """Each click counts for the team of the clicked item."""
        positions = check_clicks(interleaved, clicks)
        scores = dict.fromkeys(interleaved.rankers, 0.0)
        for p in positions:
            scores[interleaved.teams[interleaved.items[p]]] += 1.0
        return count_outcomes(scores, interleaved.rankers)
