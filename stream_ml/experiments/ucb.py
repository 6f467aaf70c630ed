"""UCB1 bandit (Auer, Cesa-Bianchi & Fischer 2002, "Finite-time analysis of the multiarmed
bandit problem", Machine Learning 47).

Index of arm a: ``mean_a + c * sqrt(2 ln N / n_a)`` where ``N`` counts all rewards received;
arms never rewarded come first. The choice is deterministic up to ties, which are broken
uniformly by the engine's generator: the propensity is ``1 / |ties|`` (so, mostly 1 -- such
logs support off-policy evaluation of the logged policy only). With delayed rewards UCB1 keeps
pulling the same arm until rewards arrive; prefer Thompson sampling or Exp3 then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import Decision


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

    def __init__(self, arms: Sequence[str], *, c: float = 1.0, **common: Any) -> None:
        super().__init__(arms, **common)
        self.c = c

    def indices(self) -> dict[str, float]:
        """The UCB1 index of each arm (``inf`` for arms never rewarded)."""
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


class UCBConfig(RouterConfigBase):
    """Config of :class:`UCBRouter`; ``c`` scales the exploration bonus (1 = UCB1)."""

    kind: Literal["ucb"] = "ucb"
    c: float = Field(1.0, ge=0.0)

    def build(self, model_names: Sequence[str]) -> UCBRouter:
        return UCBRouter(check_names(model_names), c=self.c, **self.common())
