"""How many requests A/B testing and team-draft interleaving need to find the better ranker,
by simulated power on a click model with heterogeneous users and queries.

Chapelle, Joachims, Radlinski & Yue 2012 ("Large-scale validation and analysis of interleaved
search evaluation", ACM TOIS 30(1)) and the Netflix experimentation team (2017, "Interleaving in
online experiments at Netflix") report interleaving to be 10-100x more sensitive than A/B
metrics. The reason: an A/B test compares clicks per request between two groups of requests,
and clicks per request vary mostly with who asks what (a user's propensity to click, how much
relevant material a query has), not with the ranker; interleaving compares both rankers on the
*same* request, so that variance cancels. This module simulates exactly that.

Click model (all parameters in :class:`ClickModelConfig`):

* A pool of ``n_queries`` queries, one drawn uniformly per request. Query ``j`` has a richness
  ``q_j ~ Beta(query_a, query_b)`` and ``n_docs`` candidates with relevance grades
  ``g ~ Binomial(max_grade, q_j)`` (hard queries have few relevant documents).
* Ranker ``r`` orders the candidates by ``g + shared * z_d + noise_r * z_rd`` (standard normal
  ``z``): the shared term is what both rankers get wrong alike (two variants of one production
  ranker, so that they differ slightly), ``noise_r`` the ranker's own error.
* Each request comes from a user whose click propensity ``c`` is one of ``n_users`` equally
  likely values, the mid-quantiles of ``Beta(user_a, user_b)`` (a discretised Beta).
* Position-based clicks (Richardson et al. 2007; Craswell et al. 2008; power-law examination as
  in Joachims, Swaminathan & Schnabel 2017): the item at rank ``k`` (1-based) of the ``length``
  shown is clicked, independently, with probability ``k**-eta * c * attraction(g)``, with the
  graded attraction ``eps + (1 - eps) (2**g - 1) / (2**max_grade - 1)`` (cf. ERR, Chapelle,
  Metzler, Zhang & Grinspan 2009).

Designs: A/B serves the two rankers on alternate requests (per-request randomisation, the most
favourable split for A/B: no per-user clustering) and tests clicks per request with a two-sided
Welch z-test; interleaving serves the team-draft merge (built by :func:`team_draft_from_orders`
for every picking-order pattern, each pattern as likely as under :class:`TeamDraft`) and tests
wins against losses with the exact two-sided sign test. Both at ``alpha``.

Simulated power: requests are i.i.d., so an experiment of ``n`` requests is fully described by
how many requests gave each value of its per-request statistic (clicks for A/B, win / tie /
loss for interleaving); those counts are Multinomial(n, pmf). The pmfs are computed *exactly*
from the model (Poisson-binomial recursions over the ranks, for every query, user type and
team-draft pattern); each simulated run draws the counts and applies the test. The power at
``n`` is the share of ``runs`` runs that declare the better ranker the winner; the smallest
``n`` with power >= 0.95 is found by bisection over ``n`` (same seed at every ``n``).

>>> pool = QueryPool(ClickModelConfig(n_queries=50, length=4), seed=0)
>>> ab, il = ab_pmf(pool), interleaving_pmf(pool)
>>> ab.shape, round(float(ab.sum()), 9), il.shape, round(float(il.sum()), 9)
((2, 5), 2.0, (3,), 1.0)
"""

from __future__ import annotations

import math
from itertools import product
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from stream_ml.experiments.interleaving.team_draft import team_draft_from_orders

__all__ = [
    "ClickModelConfig",
    "QueryPool",
    "ab_pmf",
    "events_at_power",
    "interleaving_pmf",
    "power",
]


class ClickModelConfig(BaseModel):
    """Parameters of the simulated search stream (see the module docs for the model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["click_model"] = "click_model"
    n_queries: int = Field(500, ge=1)
    n_docs: int = Field(20, ge=2)
    length: int = Field(10, ge=1)
    max_grade: int = Field(4, ge=1)
    query_a: float = Field(0.6, gt=0.0)
    query_b: float = Field(1.4, gt=0.0)
    n_users: int = Field(64, ge=1)
    user_a: float = Field(0.5, gt=0.0)
    user_b: float = Field(1.5, gt=0.0)
    eta: float = Field(1.0, ge=0.0)
    eps: float = Field(0.02, ge=0.0, le=1.0)
    shared: float = Field(1.0, ge=0.0)
    noise_good: float = Field(0.3, ge=0.0)
    noise_bad: float = Field(0.5, ge=0.0)


class QueryPool:
    """The queries of a :class:`ClickModelConfig`, both rankers' top lists and every team draft.

    ``attraction[r, j, k]``: attraction of ranker ``r``'s (0 good, 1 bad) item at rank ``k`` for
    query ``j``; ``il_attraction[j, p, k]`` and ``il_team[j, p, k]`` (+1 good, -1 bad): the
    team-draft list of query ``j`` under picking-order pattern ``p`` (one coin per round);
    ``users``: the click propensities of the user types.
    """

    def __init__(self, config: ClickModelConfig, seed: int) -> None:
        c = config
        if c.length > c.n_docs:
            raise ValueError("length must not exceed n_docs")
        rng = np.random.default_rng(seed)
        q = rng.beta(c.query_a, c.query_b, c.n_queries)
        grades = rng.binomial(c.max_grade, q[:, None], (c.n_queries, c.n_docs))
        att = c.eps + (1.0 - c.eps) * (2.0**grades - 1.0) / (2.0**c.max_grade - 1.0)
        base = grades + c.shared * rng.standard_normal(grades.shape)
        tops = []
        for sigma in (c.noise_good, c.noise_bad):
            score = base + sigma * rng.standard_normal(grades.shape)
            tops.append(np.argsort(-score, axis=1, kind="stable"))
        self.config = config
        self.attraction = np.stack(
            [np.take_along_axis(att, t[:, : c.length], axis=1) for t in tops]
        )
        # With n_docs >= length each round adds one item per ranker: ceil(length / 2) rounds.
        patterns = list(product([("good", "bad"), ("bad", "good")], repeat=-(-c.length // 2)))
        self.patterns = patterns
        self.il_attraction = np.empty((c.n_queries, len(patterns), c.length))
        self.il_team = np.empty((c.n_queries, len(patterns), c.length))
        self.rankings: list[dict[str, list[str]]] = []
        for j in range(c.n_queries):
            rankings = {"good": [f"d{d}" for d in tops[0][j]], "bad": [f"d{d}" for d in tops[1][j]]}
            self.rankings.append(rankings)
            for p, orders in enumerate(patterns):
                il = team_draft_from_orders(rankings, orders, c.length)
                self.il_attraction[j, p] = [att[j, int(d[1:])] for d in il.items]
                self.il_team[j, p] = [1.0 if il.teams[d] == "good" else -1.0 for d in il.items]
        self.doc_attraction = att
        self.users = beta_dist.ppf((np.arange(c.n_users) + 0.5) / c.n_users, c.user_a, c.user_b)
        self.examination = np.arange(1, c.length + 1, dtype=float) ** -c.eta

    def click_probabilities(self, att: np.ndarray, user: int) -> np.ndarray:
        """Click probability of items with attraction ``att`` (in rank order) for one user type."""
        return att * self.examination[: att.shape[-1]] * self.users[user]


def _poisson_binomial(prob: np.ndarray) -> np.ndarray:
    """``out[x, ...]``: probability of ``x`` successes among independent events ``prob[k, ...]``."""
    dist = np.zeros((prob.shape[0] + 1, *prob.shape[1:]))
    dist[0] = 1.0
    for k in range(prob.shape[0]):
        p, q = prob[k], 1.0 - prob[k]
        dist[1 : k + 2] = dist[1 : k + 2] * q + dist[: k + 1] * p
        dist[0] *= q
    return dist


def ab_pmf(pool: QueryPool) -> np.ndarray:
    """``pmf[r, x]``: probability that a request served by ranker ``r`` gets ``x`` clicks."""
    att = np.moveaxis(pool.attraction, 2, 0)  # k, r, j
    prob = (att * pool.examination[:, None, None])[..., None] * pool.users  # k, r, j, u
    return _poisson_binomial(prob).mean(axis=(2, 3)).T


def interleaving_pmf(pool: QueryPool, block: int = 100) -> np.ndarray:
    """``(P(win), P(tie), P(loss))`` of the good ranker on one team-draft request.

    Given the query, pattern and user, the good team's clicks ``G`` and the bad team's ``B`` are
    independent Poisson-binomial counts; the good ranker wins when ``G > B``.
    """
    out = np.zeros(3)
    for j0 in range(0, pool.config.n_queries, block):
        good = np.moveaxis(pool.il_team[j0 : j0 + block] > 0, 2, 0)[..., None]  # k, j, p, 1
        att = np.moveaxis(pool.il_attraction[j0 : j0 + block], 2, 0)  # k, j, p
        prob = (att * pool.examination[:, None, None])[..., None] * pool.users  # k, j, p, u
        g = _poisson_binomial(np.where(good, prob, 0.0))
        b = _poisson_binomial(np.where(good, 0.0, prob))
        below = np.cumsum(b, axis=0) - b  # P(B < x)
        win = float((g * below).sum())
        tie = float((g * b).sum())
        out += [win, tie, g[0].size - win - tie]
    n = pool.config.n_queries * len(pool.patterns) * pool.config.n_users
    return out / n


def _ab_detect(counts_g: np.ndarray, counts_b: np.ndarray, z: float) -> np.ndarray:
    x = np.arange(counts_g.shape[1], dtype=float)
    stats = []
    for c in (counts_g, counts_b):
        n = c.sum(axis=1)
        m = c @ x / n
        v = (c @ (x * x) - n * m * m) / np.maximum(n - 1, 1)
        stats.append((m, np.maximum(v, 0.0) / n))
    (m_g, v_g), (m_b, v_b) = stats
    se = np.sqrt(v_g + v_b)
    return (m_g - m_b) > z * np.where(se > 0, se, np.inf)


def power(
    design: Literal["ab", "interleaving"],
    pmf: np.ndarray,
    n: int,
    runs: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> float:
    """Share of ``runs`` simulated experiments of ``n`` requests that find the better ranker.

    ``pmf`` is :func:`ab_pmf` (A/B: ``n`` requests split evenly) or :func:`interleaving_pmf`.
    """
    rng = np.random.default_rng(seed)
    if design == "ab":
        n_good, n_bad = (n + 1) // 2, max(n // 2, 1)
        counts_g = rng.multinomial(n_good, pmf[0] / pmf[0].sum(), size=runs)
        counts_b = rng.multinomial(n_bad, pmf[1] / pmf[1].sum(), size=runs)
        z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
        return float(_ab_detect(counts_g, counts_b, z).mean())
    counts = rng.multinomial(n, pmf / pmf.sum(), size=runs)
    wins, losses = counts[:, 0], counts[:, 2]
    # exact two-sided sign test: p = 2 P(Bin(w + l, 1/2) >= w), for w > l
    p_value = np.minimum(1.0, 2.0 * binom.sf(wins - 1, wins + losses, 0.5))
    return float(((wins > losses) & (p_value <= alpha)).mean())


def events_at_power(
    design: Literal["ab", "interleaving"],
    pmf: np.ndarray,
    target: float = 0.95,
    runs: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    rel_tol: float = 0.01,
) -> dict[str, Any]:
    """Smallest ``n`` (to ``rel_tol``) with simulated power >= ``target``, by bisection."""
    lo, hi = 1, 64
    while power(design, pmf, hi, runs, alpha, seed) < target:
        lo, hi = hi, hi * 4
        if hi > 10**12:
            return {"events": math.inf, "power": float("nan"), "runs": runs}
    while hi - lo > max(1, rel_tol * lo):
        mid = (lo + hi) // 2
        if power(design, pmf, mid, runs, alpha, seed) >= target:
            hi = mid
        else:
            lo = mid
    return {"events": hi, "power": power(design, pmf, hi, runs, alpha, seed), "runs": runs}
