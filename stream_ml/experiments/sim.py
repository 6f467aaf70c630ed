"""Seeded simulators with known ground truth for the experiment scenarios and benchmarks.

* :func:`bandit_regret`: a router against Bernoulli arms; cumulative (pseudo-)regret against the
  oracle that always serves the best arm, ``sum_t (mu* - mu_{a_t})``.
* :func:`swap_means` / :func:`switching_bandit` / :func:`swap_regret`: a switching
  environment (issue #13): ``n_arms`` Bernoulli arms whose means are ``linspace(0.1, 0.9)`` in a
  seeded random order; after ``n_events // 2`` pulls the best and the worst arm swap their
  means (0.9 and 0.1), the others keep theirs. Reported: the share of the second half's pulls
  on the new best arm, and the total pseudo-regret against the oracle of each half.
* :class:`RankingStream`: a search / recommendation stream. Each request has ``n_docs``
  candidates with relevance ``rel = q * U(0, 1)``, where the query quality ``q ~ U(0, 1)`` is
  drawn per request (queries differ in how much relevant material exists); ranker r orders
  them by ``rel + N(0, noise_r^2)`` (less noise = better ranker). Clicks follow a
  position-based click model (Richardson et al. 2007; Craswell et al. 2008): the item at rank k
  (1-based) is examined with probability ``1 / k`` and clicked when examined with
  probability ``attraction(rel) = 0.05 + 0.9 * rel**2``.
* :func:`power_events`: events each design needs to detect the better ranker at 95% power,
  two-sided alpha = 0.05, from the per-event effect and variance (normal approximation):
  A/B on clicks per request needs ``2 (z_a + z_b)^2 * 2 var / d^2`` requests (two arms);
  interleaving needs ``(z_a + z_b)^2 var(o) / E[o]^2`` with ``o`` in {-1, 0, 1} per request.
* :func:`broken_canary`: a canary whose candidate is broken; returns when the guard fired.

The A/B-vs-interleaving comparison by *simulated* power, on a click model with heterogeneous
users and queries, is :mod:`stream_ml.experiments.sensitivity` (the benchmark uses that one).

>>> stream = RankingStream(n_docs=10, length=5, noise={"good": 0.1, "bad": 0.3}, seed=0)
>>> rankings, rel = stream.request()
>>> sorted(rankings), len(rankings["good"])
(['bad', 'good'], 10)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from stream_ml.experiments.base import BaseRouter
from stream_ml.experiments.canary import CanaryConfig
from stream_ml.experiments.interleaving.router import InterleavingRouter

__all__ = [
    "RankingStream",
    "ab_vs_interleaving",
    "bandit_regret",
    "broken_canary",
    "power_events",
    "swap_means",
    "swap_regret",
    "switching_bandit",
]


def bandit_regret(
    router: BaseRouter, means: Mapping[str, float], n_events: int, seed: int
) -> np.ndarray:
    """Cumulative pseudo-regret of ``router`` over ``n_events`` Bernoulli events."""
    rng = np.random.default_rng(seed)
    env = np.random.default_rng(seed + 1_000_003)
    best = max(means.values())
    regret = np.empty(n_events)
    total = 0.0
    for t in range(n_events):
        d = router.route(None, rng)
        mu = means[d.arm]
        router.reward(d, float(env.random() < mu))
        total += best - mu
        regret[t] = total
    return regret


def swap_means(n_arms: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The arms' means before and after the swap of the best and the worst arm (module docs).

    >>> before, after = swap_means(4, seed=0)
    >>> int(before.argmax()) == int(after.argmin()), int(before.argmin()) == int(after.argmax())
    (True, True)
    """
    before = np.random.default_rng(seed + 2_000_003).permutation(np.linspace(0.1, 0.9, n_arms))
    after = before.copy()
    best, worst = int(before.argmax()), int(before.argmin())
    after[best], after[worst] = before[worst], before[best]
    return before, after


def switching_bandit(
    pull: Callable[[], int],
    learn: Callable[[int, float], None],
    seed: int,
    n_arms: int = 10,
    n_events: int = 10_000,
) -> dict[str, float]:
    """Run any policy (``pull() -> arm index``, ``learn(arm, reward)``) on the swap
    environment of ``seed``: one uniform per event decides the reward, whichever arm is pulled,
    so every policy sees the same reward stream. Returns ``share`` (second half on the new best
    arm) and ``regret`` (total pseudo-regret)."""
    before, after = swap_means(n_arms, seed)
    env = np.random.default_rng(seed + 1_000_003)
    half, new_best = n_events // 2, int(np.argmax(after))
    u = env.random(n_events).tolist()
    mus, tops = before.tolist(), float(before.max())
    regret, on_best = 0.0, 0
    for t in range(n_events):
        if t == half:
            mus, tops = after.tolist(), float(after.max())
        arm = pull()
        mu = mus[arm]
        learn(arm, float(u[t] < mu))
        regret += tops - mu
        if t >= half and arm == new_best:
            on_best += 1
    return {"share": on_best / (n_events - half), "regret": regret}


def swap_regret(router: BaseRouter, seed: int, n_events: int = 10_000) -> dict[str, float]:
    """:func:`switching_bandit` for a router over arms ``arm0`` .. (decisions drawn from
    ``default_rng(seed)``; rewards delivered at once)."""
    rng, index = np.random.default_rng(seed), {a: i for i, a in enumerate(router.arms)}
    last: list[Any] = [None]

    def pull() -> int:
        last[0] = d = router.route(None, rng)
        return index[d.arm]

    def learn(arm: int, reward: float) -> None:
        router.reward(last[0], reward)

    return switching_bandit(pull, learn, seed, len(router.arms), n_events)


class RankingStream:
    """Requests with candidates of known relevance, rankers of known quality, PBM clicks."""

    def __init__(self, n_docs: int, length: int, noise: Mapping[str, float], seed: int) -> None:
        self.n_docs = n_docs
        self.length = length
        self.noise = dict(noise)
        self.rng = np.random.default_rng(seed)
        self.docs = [f"d{i}" for i in range(n_docs)]
        self.examination = 1.0 / np.arange(1, length + 1)

    def request(self) -> tuple[dict[str, list[str]], dict[str, float]]:
        """One request: each ranker's full ranking of the candidates, and their relevance."""
        rel = self.rng.random(self.n_docs) * self.rng.random()  # per-request query quality
        rankings = {}
        for name, sigma in self.noise.items():
            score = rel + self.rng.normal(0.0, sigma, self.n_docs)
            rankings[name] = [self.docs[i] for i in np.argsort(-score)]
        return rankings, dict(zip(self.docs, rel.tolist(), strict=True))

    def expected_clicks(self, shown: Sequence[str], rel: Mapping[str, float]) -> float:
        """Expected number of clicks on ``shown`` under the click model."""
        top = shown[: self.length]
        attraction = np.array([0.05 + 0.9 * rel[item] ** 2 for item in top])
        return float((self.examination[: len(top)] * attraction).sum())

    def clicks(self, shown: Sequence[str], rel: Mapping[str, float]) -> list[str]:
        """Position-based model: examine rank k w.p. 1/k, click w.p. 0.05 + 0.9 rel^2."""
        out = []
        for k, item in enumerate(shown[: self.length]):
            attraction = 0.05 + 0.9 * rel[item] ** 2
            if self.rng.random() < self.examination[k] * attraction:
                out.append(item)
        return out


def power_events(effect: float, variance: float, alpha: float = 0.05, power: float = 0.95):
    """Observations needed by a one-sample z-test of mean ``effect`` with ``variance``."""
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return float("inf") if effect == 0 else z * z * variance / (effect * effect)


def ab_vs_interleaving(
    stream: RankingStream, router: InterleavingRouter, n_requests: int, better: str, worse: str
) -> dict[str, Any]:
    """Measure per-request effects of both designs on the same stream; events at 95% power."""
    rng = np.random.default_rng(12345)
    clicks_b, clicks_w, gap, outcomes = [], [], [], []
    for _ in range(n_requests):
        rankings, rel = stream.request()
        top_b, top_w = rankings[better][: stream.length], rankings[worse][: stream.length]
        # A/B: realised clicks of each arm (for the variance) and the exact expected gap on the
        # same request (a paired, low-noise estimate of the true effect).
        clicks_b.append(len(stream.clicks(top_b, rel)))
        clicks_w.append(len(stream.clicks(top_w, rel)))
        gap.append(stream.expected_clicks(top_b, rel) - stream.expected_clicks(top_w, rel))
        d = router.route(None, rng)
        il = router.interleave(d, rankings, rng)
        credit = router.credit(il, stream.clicks(il.items, rel))
        outcomes.append(
            credit.outcomes[(better, worse)]
            if (better, worse) in credit.outcomes
            else -credit.outcomes[(worse, better)]
        )
    xa, xb, o = np.array(clicks_b), np.array(clicks_w), np.array(outcomes)
    d_ab = float(np.mean(gap))
    var_ab = xa.var(ddof=1) + xb.var(ddof=1)  # variance of (one B-arm mean - one A-arm mean)
    n_ab = 2 * power_events(d_ab, var_ab)  # requests in both arms together
    n_il = power_events(o.mean(), o.var(ddof=1))
    return {
        "ab_effect": d_ab,
        "ab_events": n_ab,
        "interleaving_mean_outcome": o.mean(),
        "interleaving_events": n_il,
        "ratio": n_ab / n_il,
        "wins": int((o > 0).sum()),
        "losses": int((o < 0).sum()),
        "ties": int((o == 0).sum()),
    }


def broken_canary(seed: int, n_events: int = 50_000, **config: Any) -> dict[str, Any]:
    """A canary whose candidate succeeds 20% of the time against the primary's 70%."""
    cfg = CanaryConfig(primary="stable", candidate="broken", **config)
    router, rng = cfg.build(["stable", "broken"]), np.random.default_rng(seed)
    for t in range(n_events):
        d = router.route(f"user-{t}", rng)
        router.reward(d, float(rng.random() < (0.2 if d.served == "broken" else 0.7)))
        if router.state != "ramping":
            break
    return {
        "state": router.state,
        "events": router.decisions,
        "candidate_outcomes": router.stats["broken"].n,
        "stage": router.stage,
        "share": router.share,
    }
