"""Exp3 adversarial bandit (Auer, Cesa-Bianchi, Freund & Schapire 2002, "The nonstochastic
multiarmed bandit problem", SIAM J. Computing 32).

``p_a = (1 - gamma) w_a / sum(w) + gamma / K``; on reward ``x`` in [0, 1] for the chosen arm,
``w_a *= exp(gamma * x / (p_a K))`` where ``p_a`` is the propensity logged in the decision, so a
delayed reward is importance-weighted by the probability the arm actually had. Rewards are
rescaled from ``reward_range`` to [0, 1]; rewards outside it are refused. Weights are kept as
logarithms (no overflow).

Exp3.S for switching environments (same paper, section 8): with ``share = alpha > 0`` each
reward also shares weight, ``w_a <- w_a exp(gamma x_hat_a / K) + (e alpha / K) sum_b w_b`` for
every arm (before the update), so no arm's weight falls far below the others' and the policy
tracks the best arm of each segment; O(arms) per reward. Auer et al. tune ``alpha = 1 / T``.
``share = 0`` (the default) is Exp3 exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import BadRewardError
from stream_ml.experiments.forgetting import DriftKind
from stream_ml.experiments.hashing import bucket
from stream_ml.experiments.stats import ArmStats


class Exp3Router(BaseRouter):
    """Exp3 routing with exact propensities.

    Examples
    --------
    >>> import numpy as np
    >>> router = Exp3Config(gamma=0.1).build(["a", "b"])
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(2000):
    ...     d = router.route(None, rng)
    ...     router.reward(d, 1.0 if d.arm == "b" else 0.0)
    >>> router.distribution()["b"] > 0.9
    True
    """

    kind = "exp3"
    accepts_arms = True
    # class-level default for routers pickled before Exp3.S existed
    share = 0.0

    def __init__(
        self,
        arms: Sequence[str],
        *,
        gamma: float = 0.1,
        reward_range: tuple[float, float] = (0.0, 1.0),
        share: float = 0.0,
        **common: Any,
    ) -> None:
        super().__init__(arms, **common)
        self.gamma = gamma
        self.share = share
        self.reward_range = reward_range
        self.log_weights = dict.fromkeys(self.arms, 0.0)

    def distribution(self) -> dict[str, float]:
        """The current probability of each arm."""
        top = max(self.log_weights.values())
        w = {a: math.exp(lw - top) for a, lw in self.log_weights.items()}
        total, k, g = sum(w.values()), len(self.arms), self.gamma
        return {a: (1.0 - g) * wa / total + g / k for a, wa in w.items()}

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        probs = self.distribution()
        arm = self.arms[bucket(float(rng.random()), list(accumulate(probs.values())))]
        return self._issue(arm, (arm,), probs[arm], arm, probs)

    def _check_range(self, value: float) -> None:
        lo, hi = self.reward_range
        if not lo <= value <= hi:
            self._fail(BadRewardError(value, f"outside reward_range [{lo}, {hi}]"))

    def _learn(self, decision: Decision, value: float) -> None:
        lo, hi = self.reward_range
        x = (value - lo) / (hi - lo)
        p = max(decision.propensity, 1e-12)
        k = len(self.arms)
        if self.share <= 0.0:
            self.log_weights[decision.arm] += self.gamma * x / (p * k)
            return
        lw = self.log_weights
        top = max(lw.values())
        # log of (e alpha / K) * sum_b w_b, with the weights before this update
        log_shared = (
            top
            + math.log(math.e * self.share / k)
            + math.log(sum(math.exp(v - top) for v in lw.values()))
        )
        lw[decision.arm] += self.gamma * x / (p * k)
        for a, v in lw.items():
            hi, lo = (v, log_shared) if v >= log_shared else (log_shared, v)
            lw[a] = hi + math.log1p(math.exp(lo - hi))

    def _add_arm(self, arm: str, stats: ArmStats) -> None:
        # a new arm starts at the mean log weight: neither favoured nor starved
        others = list(self.log_weights.values())
        self.log_weights[arm] = sum(others) / len(others) if others else 0.0

    def _remove_arm(self, i: int) -> None:
        self.log_weights = {a: self.log_weights[a] for a in self.arms}

    def _reset_arm(self, i: int) -> None:
        others = [v for a, v in self.log_weights.items() if a != self.arms[i]]
        self.log_weights[self.arms[i]] = sum(others) / len(others) if others else 0.0

    def _forget(self, kind: DriftKind, factor: float) -> None:
        f = 0.0 if kind == "reset" else factor  # discount: w_a ** factor, towards uniform
        self.log_weights = {a: v * f for a, v in self.log_weights.items()}


class Exp3Config(RouterConfigBase):
    """Config of :class:`Exp3Router`; ``share`` > 0 is Exp3.S (module docs)."""

    kind: Literal["exp3"] = "exp3"
    gamma: float = Field(0.1, gt=0.0, le=1.0)
    reward_range: tuple[float, float] = (0.0, 1.0)
    share: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range(self) -> Exp3Config:
        if not self.reward_range[0] < self.reward_range[1]:
            raise ValueError("reward_range must be (low, high) with low < high")
        return self

    def build(self, model_names: Sequence[str]) -> Exp3Router:
        return Exp3Router(
            check_names(model_names),
            gamma=self.gamma,
            reward_range=self.reward_range,
            share=self.share,
            **self.common(),
        )
