"""Epsilon-greedy bandit (Sutton & Barto 2018, "Reinforcement Learning", section 2.2).

With probability ``epsilon`` an arm is drawn uniformly, otherwise the best arm by mean reward
(ties, and arms never rewarded yet, split the greedy share). The logged propensity is exact:
``epsilon / K + (1 - epsilon) / |greedy|`` for a greedy arm, ``epsilon / K`` for the others.

Switching environments: ``discount = gamma < 1`` takes the greedy arm by discounted means, and
``window = W`` by the means of the last ``W`` rewards (an arm with none in the window counts as
untried), as for D-UCB / SW-UCB (Garivier & Moulines 2011; see
:mod:`stream_ml.experiments.forgetting`). The defaults are the stationary rule exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.forgetting import DriftKind, Forgetting, ForgettingConfig
from stream_ml.experiments.hashing import bucket
from stream_ml.experiments.stats import ArmStats


class EpsilonGreedyRouter(BaseRouter):
    """Epsilon-greedy routing with exact propensities.

    Examples
    --------
    >>> import numpy as np
    >>> router = EpsilonGreedyConfig(epsilon=0.2).build(["a", "b"])
    >>> rng = np.random.default_rng(3)
    >>> for _ in range(500):
    ...     d = router.route(None, rng)
    ...     router.reward(d, 1.0 if d.arm == "b" else 0.0)
    >>> d = router.route(None, rng)
    >>> d.probabilities
    {'a': 0.1, 'b': 0.9}
    """

    kind = "epsilon_greedy"
    accepts_arms = True
    # class-level default for routers pickled before forgetting existed
    _memory: Forgetting | None = None

    def __init__(
        self,
        arms: Sequence[str],
        *,
        epsilon: float = 0.1,
        discount: float = 1.0,
        window: int | None = None,
        **common: Any,
    ) -> None:
        super().__init__(arms, **common)
        self.epsilon = epsilon
        forgets = discount < 1.0 or window is not None
        self._memory = Forgetting(len(self.arms), discount, window) if forgets else None

    def _greedy(self) -> list[str]:
        if self._memory is not None:
            ns, ss = self._memory.read()
            untried = [a for a, n in zip(self.arms, ns, strict=True) if n <= 0.0]
            if untried:
                return untried
            means = [s / n for n, s in zip(ns, ss, strict=True)]
            top = max(means)
            return [a for a, m in zip(self.arms, means, strict=True) if m == top]
        stats = self.stats
        untried = [a for a in self.arms if stats[a].n == 0]
        if untried:
            return untried
        best = max(stats[a].mean for a in self.arms)
        return [a for a in self.arms if stats[a].mean == best]

    def distribution(self) -> dict[str, float]:
        """The current probability of each arm."""
        greedy = self._greedy()
        k, eps = len(self.arms), self.epsilon
        base, bonus = eps / k, (1.0 - eps) / len(greedy)
        gset = set(greedy)
        return {a: base + bonus if a in gset else base for a in self.arms}

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        probs = self.distribution()
        arm = self.arms[bucket(float(rng.random()), list(accumulate(probs.values())))]
        return self._issue(arm, (arm,), probs[arm], arm, probs)

    def _learn(self, decision: Decision, value: float) -> None:
        if self._memory is not None:
            self._memory.update(self.arms.index(decision.arm), value)

    def _add_arm(self, arm: str, stats: ArmStats) -> None:
        if self._memory is not None:
            self._memory.add(stats.n, stats.mean * stats.n)

    def _remove_arm(self, i: int) -> None:
        if self._memory is not None:
            self._memory.remove(i)

    def _reset_arm(self, i: int) -> None:
        if self._memory is not None:
            self._memory.reset(i)

    def _forget(self, kind: DriftKind, factor: float) -> None:
        if self._memory is None:  # the stationary rule reads the arm statistics: copy them
            self._memory = Forgetting.from_stats(self.arms, self.stats, self.rewards)
        self._memory.forget(kind, factor)


class EpsilonGreedyConfig(ForgettingConfig):
    """Config of :class:`EpsilonGreedyRouter` over all the models; ``discount`` or ``window``
    make the greedy choice forget (module docs)."""

    kind: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float = Field(0.1, ge=0.0, le=1.0)

    def build(self, model_names: Sequence[str]) -> EpsilonGreedyRouter:
        return EpsilonGreedyRouter(
            check_names(model_names),
            epsilon=self.epsilon,
            discount=self.discount,
            window=self.window,
            **self.common(),
        )
