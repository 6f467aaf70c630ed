"""Thompson sampling (Thompson 1933; Chapelle & Li 2011, "An empirical evaluation of Thompson
sampling", NeurIPS; Agrawal & Goyal 2013 for the Gaussian version).

Thompson sampling picks each arm with the posterior probability that it is the best arm. This
router makes that probability explicit so that the propensity it logs is exact: it estimates
``P(best = a)`` from ``n_samples`` joint posterior draws (drawn from the engine's generator) and
then draws the arm from that distribution. The served arm is therefore chosen with exactly the
logged probability, which off-policy evaluation needs; with a plain single posterior draw the
propensity would be unknown. The distribution is recomputed lazily after every
``refresh_every`` rewards; ``floor`` mixes in a uniform share so that every arm keeps a
propensity of at least ``floor`` (useful for later off-policy evaluation).

* ``likelihood="beta"``: Beta(prior_alpha, prior_beta) per arm, for rewards in [0, 1]
  (fractional rewards update as Bernoulli expectations); others are refused.
* ``likelihood="gaussian"``: normal posterior of each arm's mean with prior
  N(prior_mean, prior_var) (vague by default: 1e4) and the arm's sample variance as noise
  variance (1 before two rewards), for real-valued rewards.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import BadRewardError, ExperimentConfigError
from stream_ml.experiments.hashing import bucket


class ThompsonRouter(BaseRouter):
    """Thompson sampling with exact, logged propensities.

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
    """

    kind = "thompson"

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
        refresh_every: int = 1,
        floor: float = 0.0,
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
        self.floor = floor
        self._index = {a: i for i, a in enumerate(self.arms)}
        self._sum = np.zeros(k)  # reward sums (beta: successes)
        self._n = np.zeros(k)
        self._probs: dict[str, float] = {}
        self._cum: list[float] = []
        self._since = 0

    def _draws(self, rng: np.random.Generator) -> np.ndarray:
        size = (self.n_samples, len(self.arms))
        if self.likelihood == "beta":
            a0, b0 = self.prior
            return rng.beta(a0 + self._sum, b0 + self._n - self._sum, size=size)
        m0, v0 = self.prior
        noise = np.array(
            [self.stats[a].variance if self.stats[a].n > 1 else 1.0 for a in self.arms]
        )
        noise = np.maximum(noise, 1e-12)
        precision = 1.0 / v0 + self._n / noise
        mean = (m0 / v0 + self._sum / noise) / precision
        return rng.normal(mean, np.sqrt(1.0 / precision), size=size)

    def distribution(self, rng: np.random.Generator) -> dict[str, float]:
        """Current P(best = a), refreshed from posterior draws when stale."""
        if not self._probs or self._since >= self.refresh_every:
            best = np.argmax(self._draws(rng), axis=1)
            p = np.bincount(best, minlength=len(self.arms)) / self.n_samples
            if self.floor > 0.0:
                p = (1.0 - self.floor * len(self.arms)) * p + self.floor
            self._probs = {a: float(x) for a, x in zip(self.arms, p, strict=True)}
            self._cum = list(accumulate(self._probs.values()))
            self._since = 0
        return self._probs

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        probs = self.distribution(rng)
        arm = self.arms[bucket(float(rng.random()), self._cum)]
        return self._issue(arm, (arm,), probs[arm], arm, probs)

    def _check_range(self, value: float) -> None:
        if self.likelihood == "beta" and not 0.0 <= value <= 1.0:
            self._fail(BadRewardError(value, "a Beta Thompson router takes rewards in [0, 1]"))

    def _learn(self, decision: Decision, value: float) -> None:
        i = self._index[decision.arm]
        self._sum[i] += value
        self._n[i] += 1.0
        self._since += 1


class ThompsonConfig(RouterConfigBase):
    """Config of :class:`ThompsonRouter`."""

    kind: Literal["thompson"] = "thompson"
    likelihood: Literal["beta", "gaussian"] = "beta"
    prior_alpha: float = Field(1.0, gt=0.0)
    prior_beta: float = Field(1.0, gt=0.0)
    prior_mean: float = 0.0
    prior_var: float = Field(1e4, gt=0.0)
    n_samples: int = Field(256, ge=1)
    refresh_every: int = Field(1, ge=1)
    floor: float = Field(0.0, ge=0.0, lt=1.0)

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
            floor=self.floor,
            **self.common(),
        )
