"""UCB1 bandit (Auer, Cesa-Bianchi & Fischer 2002, "Finite-time analysis of the multiarmed
bandit problem", Machine Learning 47).

Index of arm a: ``mean_a + c * sqrt(2 ln N / n_a)`` where ``N`` counts all rewards received;
arms never rewarded come first. The choice is deterministic up to ties, which are broken
uniformly by the engine's generator: the propensity is ``1 / |ties|`` (so, mostly 1 -- such
logs support off-policy evaluation of the logged policy only). With delayed rewards UCB1 keeps
pulling the same arm until rewards arrive; prefer Thompson sampling or Exp3 then.

Switching environments (Garivier & Moulines 2011, "On upper-confidence bound policies for
switching bandit problems", ALT). ``discount = gamma < 1`` is discounted UCB (D-UCB): means and
counts are discounted sums, ``N_a = sum_s gamma^(t-s) [a_s = a]``, and ``N`` in the bonus is
``sum_a N_a``; ``window = W`` is sliding-window UCB (SW-UCB): only the last ``W`` rewards count,
``N = min(t, W)``. An arm whose window count falls to 0 is tried again first. The clock is the
reward count (:mod:`stream_ml.experiments.forgetting`). Garivier & Moulines suggest
``gamma = 1 - sqrt(S / T) / 4`` and ``W = 2 sqrt(T log T / S)`` for ``S`` switches in ``T``
steps. The defaults (``discount = 1``, ``window = None``) are UCB1 exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.forgetting import DriftKind, Forgetting, ForgettingConfig
from stream_ml.experiments.stats import ArmStats


class UCBRouter(BaseRouter):
    """UCB1 routing.

    Examples
    --------
    >>> import numpy as np
    >>> router = UCBConfig().build(["a", "b", "c"])
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(300):
    ...     d = router.route(None, rng)
    ...     router.reward(d, {"a": 0.2, "b": 0.9, "c": 0.5}[d.arm])
    >>> max(router.stats, key=lambda a: router.stats[a].n)
    'b'
    """

    kind = "ucb"
    accepts_arms = True
    # class-level default for routers pickled before forgetting existed
    _memory: Forgetting | None = None

    def __init__(
        self,
        arms: Sequence[str],
        *,
        c: float = 1.0,
        discount: float = 1.0,
        window: int | None = None,
        **common: Any,
    ) -> None:
        super().__init__(arms, **common)
        self.c = c
        forgets = discount < 1.0 or window is not None
        self._memory = Forgetting(len(self.arms), discount, window) if forgets else None

    def indices(self) -> dict[str, float]:
        """The UCB index of each arm (``inf`` for arms with no reward that counts)."""
        if self._memory is not None:
            ns, ss = self._memory.read()
            log_t = math.log(max(sum(ns), 1.0))
            c = self.c
            return {
                a: math.inf if n <= 0.0 else s / n + c * math.sqrt(2.0 * log_t / n)
                for a, n, s in zip(self.arms, ns, ss, strict=True)
            }
        log_n = math.log(max(self.rewards, 1))
        out = {}
        for a in self.arms:
            s = self.stats[a]
            out[a] = math.inf if s.n == 0 else s.mean + self.c * math.sqrt(2.0 * log_n / s.n)
        return out

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        idx = self.indices()
        best = max(idx.values())
        ties = [a for a in self.arms if idx[a] == best]
        arm = ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]
        p = 1.0 / len(ties)
        probs = {a: p if idx[a] == best else 0.0 for a in self.arms}
        return self._issue(arm, (arm,), p, arm, probs)

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
        if self._memory is None:  # UCB1 reads the arm statistics: copy them, then forget
            self._memory = Forgetting.from_stats(self.arms, self.stats, self.rewards)
        self._memory.forget(kind, factor)


class UCBConfig(ForgettingConfig):
    """Config of :class:`UCBRouter`; ``c`` scales the exploration bonus (1 = UCB1);
    ``discount`` < 1 is D-UCB, ``window`` SW-UCB (module docs)."""

    kind: Literal["ucb"] = "ucb"
    c: float = Field(1.0, ge=0.0)

    def build(self, model_names: Sequence[str]) -> UCBRouter:
        return UCBRouter(
            check_names(model_names),
            c=self.c,
            discount=self.discount,
            window=self.window,
            **self.common(),
        )
