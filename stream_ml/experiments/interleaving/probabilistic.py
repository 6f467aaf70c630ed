"""Probabilistic interleaving (Hofmann, Whiteson & de Rijke 2011, "A probabilistic method for
inferring preferences from clicks", CIKM) and probabilistic multileaving (Schuth, Bruintjes,
Buettner, van Doorn, Groenland, Oosterhuis, Tran, Veeling, van der Velde, Wechsler, Woudenberg
& de Rijke 2015, "Probabilistic multileave for online retrieval evaluation", SIGIR).

Each ranker becomes a softmax over items, ``P_r(d) ~ rank_r(d) ** -tau`` (tau = 3 in the
paper). For each position a ranker is drawn uniformly, then an item from its softmax over the
items not yet shown; the item is removed from every ranker's distribution.

Credit marginalises over all assignments of positions to rankers that could have produced the
list: ``E[o] = sum_a o(c, a) P(a | L)``. Because an item is removed from every ranker whatever
the assignment, ``P(L | a) = prod_i P_{a_i}(L_i | L_1..L_{i-1})`` factorises over positions, so
the posterior of the ranker at position i is ``q_i(r) ~ P_r(L_i | L_<i)`` independently of the
other positions. Expected clicks per ranker are sums of ``q_i`` over clicked positions; the
expected pairwise outcome ``E[sign(clicks_r - clicks_s)]`` is computed exactly by a small dynamic
programme over clicked positions (no enumeration of the k**n assignments).
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
    pairs,
)


def _rank_weights(rankings: Rankings, universe: list[str], tau: float) -> np.ndarray:
    """Matrix (rankers x items) of ``rank ** -tau``; unranked items share the next rank."""
    w = np.empty((len(rankings), len(universe)))
    for i, ranking in enumerate(rankings.values()):
        pos = {item: k + 1 for k, item in enumerate(ranking)}
        missing = len(ranking) + 1
        w[i] = [pos.get(item, missing) ** -tau for item in universe]
    return w


def posteriors(rankings: Rankings, items: list[str], tau: float = 3.0) -> np.ndarray:
    """``q[i, r]``: posterior probability that ranker r contributed the item at position i.

    >>> q = posteriors({"A": ["d1", "d2"], "B": ["d2", "d1"]}, ["d1", "d2"])
    >>> q.round(4).tolist()
    [[0.8889, 0.1111], [0.5, 0.5]]
    """
    universe = list(dict.fromkeys(item for r in rankings.values() for item in r))
    col = {item: j for j, item in enumerate(universe)}
    w = _rank_weights(rankings, universe, tau)
    remaining = w.sum(axis=1)
    q = np.empty((len(items), len(rankings)))
    for i, item in enumerate(items):
        wi = w[:, col[item]]
        lik = wi / remaining
        q[i] = lik / lik.sum()
        remaining = remaining - wi
    return q


def expected_sign(q_r: np.ndarray, q_s: np.ndarray) -> float:
    """``E[sign(sum X_i)]`` with independent ``X_i`` = +1 w.p. q_r[i], -1 w.p. q_s[i], else 0.

    >>> round(expected_sign(np.array([8 / 9, 0.5]), np.array([1 / 9, 0.5])), 6)
    0.388889
    """
    n = len(q_r)
    dist = np.zeros(2 * n + 1)
    dist[n] = 1.0
    for a, b in zip(q_r, q_s, strict=True):
        new = dist * (1.0 - a - b)
        new[1:] += dist[:-1] * a
        new[:-1] += dist[1:] * b
        dist = new
    return float(dist[n + 1 :].sum() - dist[:n].sum())


class Probabilistic:
    """Probabilistic interleaving / multileaving with marginalised credit.

    Examples
    --------
    >>> import numpy as np
    >>> pi = Probabilistic(tau=3.0)
    >>> il = pi.interleave({"A": ["d1", "d2"], "B": ["d2", "d1"]}, np.random.default_rng(0))
    >>> sorted(il.items)
    ['d1', 'd2']
    """

    name = "probabilistic"

    def __init__(self, tau: float = 3.0) -> None:
        self.tau = tau

    def interleave(
        self, rankings: Rankings, rng: np.random.Generator, length: int | None = None
    ) -> Interleaved:
        """Draw a list of ``length`` items (default: the longest ranking)."""
        rankers = check_rankings(rankings)
        universe = list(dict.fromkeys(item for r in rankings.values() for item in r))
        w = _rank_weights(rankings, universe, self.tau)
        n = length if length is not None else max(len(r) for r in rankings.values())
        n = min(n, len(universe))
        items: list[str] = []
        teams: dict[str, str] = {}
        for _ in range(n):
            r = int(rng.integers(len(rankers)))
            c = np.cumsum(w[r])
            # side="right" never lands on an item already shown (zero weight)
            j = int(np.searchsorted(c, rng.random() * c[-1], side="right"))
            items.append(universe[j])
            teams[universe[j]] = rankers[r]
            w[:, j] = 0.0
        q = posteriors(rankings, items, self.tau)
        return Interleaved(items, teams, rankers, "probabilistic", state=q)

    def credit(self, interleaved: Interleaved, clicks: Iterable[str]) -> Credit:
        """Expected clicks per ranker and expected pairwise outcomes over assignments."""
        positions = check_clicks(interleaved, clicks)
        q = interleaved.state[positions]
        rankers = interleaved.rankers
        scores = {r: float(q[:, i].sum()) for i, r in enumerate(rankers)}
        idx = {r: i for i, r in enumerate(rankers)}
        outcomes = {
            (r, s): expected_sign(q[:, idx[r]], q[:, idx[s]]) if positions else 0.0
            for r, s in pairs(rankers)
        }
        return Credit(scores, outcomes)
