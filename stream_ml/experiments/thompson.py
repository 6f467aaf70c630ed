"""Thompson sampling with a lazily refreshed posterior and exact propensities (Thompson 1933;
Chapelle & Li 2011, "An empirical evaluation of Thompson sampling", NeurIPS; Agrawal & Goyal
2013 for the Gaussian version; batched / lazily updated posteriors: Kalkanli & Ozgur 2021,
"Batched Thompson sampling", NeurIPS, and Karbasi, Mirrokni & Shadravan 2021, "Parallelizing
Thompson sampling", NeurIPS).

Thompson sampling picks each arm with the posterior probability that it is the best arm. This
router makes that probability explicit so that the propensity it logs is exact: at a *refresh*
it draws ``n_samples`` joint posterior samples (one vectorised numpy call on the engine's
generator), sets ``p(a)`` = the share of samples in which ``a`` is the best, and caches ``p``.
Every route then draws the arm from the cached ``p`` with one uniform from the engine generator,
so the served arm is chosen with exactly the logged probability, which off-policy evaluation
needs (with a plain single posterior draw per event the propensity would be unknown).
Equivalently: each event plays the argmax of one of ``n_samples`` cached joint posterior draws,
picked uniformly.

The posterior is refreshed lazily ("Thompson sampling with a lazily refreshed posterior"):

* as soon as some arm's posterior has gained ``refresh_growth`` times its pseudo-count (prior
  pseudo-count plus rewards) since the last refresh, so early on, when one reward moves a
  posterior a lot, every reward refreshes, and later refreshes become rare; and
* at the latest after ``refresh_every`` rewards.

Between refreshes the router plays a slightly stale posterior, like batched Thompson sampling;
with a refresh whenever an arm's count grows by a constant factor, batched TS keeps
Thompson sampling's logarithmic regret (Kalkanli & Ozgur 2021; Karbasi et al. 2021). The
benchmark (``benchmarks/bench_experiments.py``) measures the regret against River's
per-event ``ThompsonSampling``. ``refresh_growth=0`` refreshes after every reward (the classic
behaviour, ~10x the cost). ``floor`` mixes in a uniform share so that every arm keeps a
propensity of at least ``floor`` (useful for later off-policy evaluation).

* ``likelihood="beta"``: Beta(prior_alpha, prior_beta) per arm, for rewards in [0, 1]
  (fractional rewards update as Bernoulli expectations); others are refused.
* ``likelihood="gaussian"``: normal posterior of each arm's mean with prior
  N(prior_mean, prior_var) (vague by default: 1e4) and the arm's sample variance as noise
  variance (1 before two rewards), for real-valued rewards.

Discounted Thompson sampling for switching environments (Raj & Kalyani 2017, "Taming
non-stationary bandits: a Bayesian approach", arXiv:1707.09727): with ``discount = gamma < 1``
every arm's pseudo-counts are multiplied by ``gamma`` at each step before the rewarded arm adds
its reward (Beta: ``S_a <- gamma S_a + x``, ``F_a <- gamma F_a + (1 - x)``; the prior is added
on top, undiscounted), so the posterior keeps an effective memory of about ``1 / (1 - gamma)``
rewards and widens again for arms no longer played. The Gaussian posterior discounts its reward
sums and counts the same way. The clock is the reward count, and discounting is lazy (each arm
stores the step of its last update; ``gamma ** (t - t_last)`` is applied when it is read), so a
reward costs O(1) and a refresh O(arms) more than without. Because the posterior now also moves
without rewards for an arm (it forgets), the posterior is refreshed at least every
``max(1, floor(refresh_growth / (1 - gamma)))`` rewards, the number of steps in which every
pseudo-count shrinks by about the fraction ``refresh_growth``. ``discount = 1`` (the default)
is the stationary router exactly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import BadRewardError, ExperimentConfigError
from stream_ml.experiments.forgetting import DriftKind
from stream_ml.experiments.hashing import bucket
from stream_ml.experiments.stats import ArmStats


class ThompsonRouter(BaseRouter):
    """Thompson sampling with a lazily refreshed posterior and exact, logged propensities.

    Examples
    --------
    >>> import numpy as np
    >>> router = ThompsonConfig().build(["a", "b", "c"])
    >>> rng, env = np.random.default_rng(0), {"a": 0.3, "b": 0.6, "c": 0.5}
    >>> for _ in range(1000):
    ...     d = router.route(None, rng)
    ...     router.reward(d, float(rng.random() < env[d.arm]))
    >>> d = router.route(None, rng)
    >>> max(d.probabilities, key=d.probabilities.get), round(sum(d.probabilities.values()), 9)
    ('b', 1.0)
    >>> d.propensity == d.probabilities[d.arm]
    True
    """

    kind = "thompson"
    accepts_arms = True
    # class-level defaults for routers pickled before discounting existed
    discount = 1.0
    _t = 0
    _last: list[int] = []  # read only; replaced per instance

    def __init__(
        self,
        arms: Sequence[str],
        *,
        likelihood: Literal["beta", "gaussian"] = "beta",
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        prior_mean: float = 0.0,
        prior_var: float = 1e4,
        n_samples: int = 256,
        refresh_every: int = 100,
        refresh_growth: float = 0.1,
        floor: float = 0.0,
        discount: float = 1.0,
        **common: Any,
    ) -> None:
        super().__init__(arms, **common)
        k = len(self.arms)
        if floor * k > 1.0:
            raise ExperimentConfigError(f"floor {floor} times {k} arms exceeds 1")
        self.likelihood = likelihood
        self.prior = (prior_alpha, prior_beta) if likelihood == "beta" else (prior_mean, prior_var)
        self.n_samples = n_samples
        self.refresh_every = refresh_every
        self.refresh_growth = refresh_growth
        self.floor = floor
        self.refreshes = 0
        self._pseudo = prior_alpha + prior_beta if likelihood == "beta" else 1.0
        self._index = {a: i for i, a in enumerate(self.arms)}
        self._sum = [0.0] * k  # reward sums (beta: successes); plain lists: cheap per event
        self._n = [0.0] * k
        self._next = [0.0] * k  # an arm's count that triggers the next refresh
        self._probs: dict[str, float] = {}
        self._cum: list[float] = []
        self._since = 0
        self._stale = True
        self.discount = discount
        if discount < 1.0:
            self._t = 0
            self._last = [0] * k
            self.refresh_every = min(refresh_every, max(1, int(refresh_growth / (1 - discount))))

    def _settle(self) -> None:
        """Apply the pending discount to every arm's sums and counts."""
        g, t = self.discount, self._t
        fs = [g ** (t - last) for last in self._last]
        self._sum = [s * f for s, f in zip(self._sum, fs, strict=True)]
        self._n = [n * f for n, f in zip(self._n, fs, strict=True)]
        self._last = [t] * len(fs)

    def _draws(self, rng: np.random.Generator) -> np.ndarray:
        size = (self.n_samples, len(self.arms))
        if self.discount < 1.0:
            self._settle()
        s, n = np.array(self._sum), np.array(self._n)
        if self.likelihood == "beta":
            a0, b0 = self.prior
            return rng.beta(a0 + s, b0 + n - s, size=size)
        m0, v0 = self.prior
        noise = np.array(
            [self.stats[a].variance if self.stats[a].n > 1 else 1.0 for a in self.arms]
        )
        noise = np.maximum(noise, 1e-12)
        precision = 1.0 / v0 + n / noise
        mean = (m0 / v0 + s / noise) / precision
        return rng.normal(mean, np.sqrt(1.0 / precision), size=size)

    def _refresh(self, rng: np.random.Generator) -> None:
        k = len(self.arms)
        counts = np.bincount(np.argmax(self._draws(rng), axis=1), minlength=k)
        if self.floor > 0.0:
            p = (1.0 - self.floor * k) * counts / self.n_samples + self.floor
            cum = np.cumsum(p)
        else:  # integer running counts: the last cumulative weight is exactly 1.0
            p = counts / self.n_samples
            cum = np.cumsum(counts) / self.n_samples
        self._probs = dict(zip(self.arms, p.tolist(), strict=True))
        self._cum = cum.tolist()
        g = self.refresh_growth
        self._next = [n + g * (n + self._pseudo) for n in self._n]
        self._since = 0
        self._stale = False
        self.refreshes += 1

    def distribution(self, rng: np.random.Generator) -> dict[str, float]:
        """Current P(best = a) (the cached one; refreshed from posterior draws when stale)."""
        if self._stale or self._since >= self.refresh_every:
            self._refresh(rng)
        return self._probs

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        if self._stale or self._since >= self.refresh_every:
            self._refresh(rng)
        probs, cum = self._probs, self._cum
        u = float(rng.random())
        i = bisect_right(cum, u)  # first cumulative weight strictly above u
        if i >= len(cum):  # round-off (only with a floor): the last arm with positive weight
            i = bucket(u, cum)
        arm = self.arms[i]
        return self._issue(arm, (arm,), probs[arm], arm, probs)

    def _check_range(self, value: float) -> None:
        if self.likelihood == "beta" and not 0.0 <= value <= 1.0:
            self._fail(BadRewardError(value, "a Beta Thompson router takes rewards in [0, 1]"))

    def _learn(self, decision: Decision, value: float) -> None:
        i = self._index[decision.arm]
        if self.discount < 1.0:
            t = self._t = self._t + 1
            f = self.discount ** (t - self._last[i])
            self._sum[i] *= f
            self._n[i] *= f
            self._last[i] = t
        self._sum[i] += value
        n = self._n[i] = self._n[i] + 1.0
        self._since += 1
        if n >= self._next[i]:
            self._stale = True

    def _add_arm(self, arm: str, stats: ArmStats) -> None:
        if self.discount < 1.0:
            self._settle()
            self._last.append(self._t)
        self._index[arm] = len(self.arms) - 1
        self._sum.append(stats.mean * stats.n)
        self._n.append(float(stats.n))
        self._next.append(0.0)
        if self.floor * len(self.arms) > 1.0:
            self.floor = 1.0 / len(self.arms)
        self._stale = True

    def _remove_arm(self, i: int) -> None:
        if self.discount < 1.0:
            self._settle()
            del self._last[i]
        for lst in (self._sum, self._n, self._next):
            del lst[i]
        self._index = {a: j for j, a in enumerate(self.arms)}
        self._stale = True

    def _reset_arm(self, i: int) -> None:
        if self.discount < 1.0:
            self._settle()
        self._sum[i] = self._n[i] = self._next[i] = 0.0
        self._stale = True

    def _forget(self, kind: DriftKind, factor: float) -> None:
        if self.discount < 1.0:
            self._settle()
        f = 0.0 if kind == "reset" else factor
        self._sum = [s * f for s in self._sum]
        self._n = [n * f for n in self._n]
        self._stale = True


class ThompsonConfig(RouterConfigBase):
    """Config of :class:`ThompsonRouter`.

    ``n_samples`` joint posterior draws per refresh; a refresh happens when some arm's
    pseudo-count grew by the fraction ``refresh_growth`` (0: after every reward) and at the
    latest every ``refresh_every`` rewards. ``discount`` < 1 is discounted Thompson sampling
    (module docs; 1 = stationary).
    """

    kind: Literal["thompson"] = "thompson"
    likelihood: Literal["beta", "gaussian"] = "beta"
    prior_alpha: float = Field(1.0, gt=0.0)
    prior_beta: float = Field(1.0, gt=0.0)
    prior_mean: float = 0.0
    prior_var: float = Field(1e4, gt=0.0)
    n_samples: int = Field(256, ge=1)
    refresh_every: int = Field(100, ge=1)
    refresh_growth: float = Field(0.1, ge=0.0)
    floor: float = Field(0.0, ge=0.0, lt=1.0)
    discount: float = Field(1.0, gt=0.0, le=1.0)

    def build(self, model_names: Sequence[str]) -> ThompsonRouter:
        return ThompsonRouter(
            check_names(model_names),
            likelihood=self.likelihood,
            prior_alpha=self.prior_alpha,
            prior_beta=self.prior_beta,
            prior_mean=self.prior_mean,
            prior_var=self.prior_var,
            n_samples=self.n_samples,
            refresh_every=self.refresh_every,
            refresh_growth=self.refresh_growth,
            floor=self.floor,
            discount=self.discount,
            **self.common(),
        )
