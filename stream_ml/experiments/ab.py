"""A/B split with sticky assignment by entity key, and an always-valid sequential test.

An event with a key goes to the arm whose bucket holds ``unit_hash(key, name)`` (BLAKE2b, the
same in every process), so an entity always sees the same arm; an event without a key is
assigned by the engine's generator. Either way the propensity of an arm is its weight: the
probability over keys (or over draws) that the arm is chosen.

Each treatment is compared with the control by an always-valid test, so the dashboard can be
watched at every event without inflating false positives: by default (``test = "betting"``) a
betting test on the paired differences (Waudby-Smith & Ramdas 2023), exact at every sample size
for rewards in [0, 1], which spends little of its type-I error in the first thousand events;
``test = "msprt"`` keeps the mixture SPRT (Johari et al. 2017) on plug-in variances
(:mod:`stream_ml.experiments.comparison`). With ``promote_when_decided`` the winner serves
everything once the test decides.

Burn-in. The mSPRT assumes each arm's reward has one mean, and its p-value is a running minimum
and its confidence sequence a running intersection: early evidence is never forgotten. When the
variants' models still learn online, a model that starts worse and learns to be the better one
can lose the early rewards and the test can settle on the wrong arm. The first ``burn_in``
rewards of each arm are therefore counted in the arm's statistics (its mean and interval in
:meth:`ABRouter.summary`) but not fed to the test, which uses per-arm statistics that start
after them (``summary()["burn_in"]["tested"]``). The default ``burn_in = 0`` feeds every reward,
as before; set it to about the number of rewards an arm's model needs to settle when the
variants learn online, and leave it at 0 for pre-trained or restored models.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.comparison import Comparison
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import ExperimentConfigError
from stream_ml.experiments.hashing import bucket, unit_hash


class ABRouter(BaseRouter):
    """Weighted, sticky A/B(/n) split with an always-valid test against the control.

    Examples
    --------
    >>> import numpy as np
    >>> router = ABConfig(weights={"a": 1, "b": 1}, name="exp1").build(["a", "b"])
    >>> rng = np.random.default_rng(0)
    >>> router.route("user-7", rng).served == router.route("user-7", rng).served
    True
    >>> d = router.route(None, rng)
    >>> d.propensity, d.probabilities
    (0.5, {'a': 0.5, 'b': 0.5})
    >>> router.summary()["test"]["status"]
    'not yet'
    """

    kind = "ab"

    @property
    def burn_in(self) -> int:
        """Rewards per arm counted but not fed to the test (module docs)."""
        return self.comparison.burn_in

    def __init__(
        self,
        arms: Sequence[str],
        weights: Sequence[float],
        *,
        control: str,
        tau: float = 0.05,
        alpha: float = 0.05,
        min_samples: int = 30,
        check_every: int = 10,
        higher_is_better: bool = True,
        promote_when_decided: bool = False,
        burn_in: int = 0,
        test: str = "betting",
        **common: Any,
    ) -> None:
        super().__init__(arms, **common)
        total = float(sum(weights))
        self.probabilities = {a: w / total for a, w in zip(self.arms, weights, strict=True)}
        self._cumulative = list(accumulate(self.probabilities.values()))
        self._salt = self.name
        self.check_every = check_every
        self.promote_when_decided = promote_when_decided
        self.comparison = Comparison(
            control,
            [a for a in self.arms if a != control],
            tau=tau,
            alpha=alpha,
            min_samples=min_samples,
            higher_is_better=higher_is_better,
            burn_in=burn_in,
            test=test,
        )

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        u = unit_hash(key, self._salt) if key is not None else float(rng.random())
        arm = self.arms[bucket(u, self._cumulative)]
        return self._issue(arm, (arm,), self.probabilities[arm], arm, self.probabilities)

    def _learn(self, decision: Decision, value: float) -> None:
        arm = decision.arm
        self.comparison.observe(arm, value, self.stats[arm].n)
        if self.rewards % self.check_every == 0:
            self.check()

    def record_outcome(self, arm: str, value: float) -> None:
        super().record_outcome(arm, value)
        self.comparison.observe(arm, float(value), self.stats[arm].n)

    def check(self) -> str | None:
        """Run the sequential test now; promote the winner if configured. Returns the winner."""
        winner = self.comparison.check(self.stats)
        if winner is not None and self.promote_when_decided and not self.promoting:
            test = self.comparison.test
            self._promote(winner, "mSPRT decided" if test == "msprt" else "betting test decided")
        return winner

    def summary(self) -> dict[str, Any]:
        self.check()
        out = super().summary()
        out["weights"] = dict(self.probabilities)
        out["test"] = self.comparison.as_dict()
        out["burn_in"] = self.comparison.burn.as_dict(self.stats, self.confidence)
        return out


class ABConfig(RouterConfigBase):
    """Config of :class:`ABRouter`. ``weights`` default to equal shares of all models;
    ``burn_in`` (default 0) the rewards per arm counted but not fed to the test; ``test`` the
    sequential test, ``"betting"`` (default) or ``"msprt"`` (module docs)."""

    kind: Literal["ab"] = "ab"
    weights: dict[str, float] | None = None
    control: str | None = None
    tau: float = Field(0.05, gt=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    min_samples: int = Field(30, ge=2)
    check_every: int = Field(10, ge=1)
    higher_is_better: bool = True
    promote_when_decided: bool = False
    burn_in: int = Field(0, ge=0)
    test: Literal["betting", "msprt"] = "betting"

    def build(self, model_names: Sequence[str]) -> ABRouter:
        names = check_names(model_names, self.control, *(self.weights or {}))
        weights = self.weights or dict.fromkeys(names, 1.0)
        arms = [a for a in names if a in weights]
        if len(arms) < 2 or any(weights[a] <= 0 for a in arms):
            raise ExperimentConfigError(f"A/B needs two or more positive weights: {weights}")
        control = self.control or arms[0]
        if control not in arms:
            raise ExperimentConfigError(f"control {control!r} has no weight")
        return ABRouter(
            arms,
            [weights[a] for a in arms],
            control=control,
            tau=self.tau,
            alpha=self.alpha,
            min_samples=self.min_samples,
            check_every=self.check_every,
            higher_is_better=self.higher_is_better,
            promote_when_decided=self.promote_when_decided,
            burn_in=self.burn_in,
            test=self.test,
            **self.common(),
        )
