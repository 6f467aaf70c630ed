"""Shadow routing: the primary serves; candidates predict on every event and are only scored.

The engine asks every model in ``Decision.answering`` to predict, serves the primary, and when
the label arrives calls ``reward(decision, score)`` with the primary's score (1/0 for a correct
prediction, a negative loss) and :meth:`ShadowRouter.record_outcome` with each candidate's own
score on the same event.
Candidates are compared with the primary by an always-valid mSPRT (Johari et al. 2017); with
``promote_when_decided`` a better candidate becomes the primary.

Burn-in. While the models still learn online, a candidate that starts worse and learns to be
better loses the early comparisons, and the mSPRT (a running minimum p-value, a running
intersection of intervals) can settle on the primary for good. The first ``burn_in`` scores of
each model are counted in its statistics (what :meth:`ShadowRouter.summary` reports) but not fed
to the test, which uses per-model statistics that start after them
(``summary()["burn_in"]["tested"]``). The default ``burn_in = 0`` feeds every score, as before;
set it for candidates that learn online, to about the scores they need to settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, Promotion, check_names
from stream_ml.experiments.comparison import Comparison
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import ExperimentConfigError


class ShadowRouter(BaseRouter):
    """Primary serves with propensity 1; candidates answer in the shadow and are scored.

    Examples
    --------
    >>> import numpy as np
    >>> router = ShadowConfig(primary="old", candidates=["new"]).build(["old", "new"])
    >>> d = router.route("k", np.random.default_rng(0))
    >>> d.served, d.answering, d.propensity
    ('old', ('old', 'new'), 1.0)
    >>> router.record_outcome("old", 0.0); router.record_outcome("new", 1.0)
    >>> router.summary()["arms"]["new"]["n"]
    1
    """

    kind = "shadow"

    @property
    def burn_in(self) -> int:
        """Scores per model counted but not fed to the test (module docs)."""
        return self.comparison.burn_in

    def __init__(
        self,
        primary: str,
        candidates: Sequence[str],
        *,
        tau: float = 0.05,
        alpha: float = 0.05,
        min_samples: int = 30,
        higher_is_better: bool = True,
        promote_when_decided: bool = False,
        burn_in: int = 0,
        **common: Any,
    ) -> None:
        super().__init__([primary, *candidates], **common)
        self.primary = primary
        self.promote_when_decided = promote_when_decided
        self.comparison = Comparison(
            primary,
            list(candidates),
            tau=tau,
            alpha=alpha,
            min_samples=min_samples,
            higher_is_better=higher_is_better,
            burn_in=burn_in,
        )
        self._set_primary(primary)

    def _set_primary(self, primary: str) -> None:
        self.primary = primary
        self._answering = (primary, *(a for a in self.arms if a != primary))
        self._probs = {a: float(a == primary) for a in self.arms}

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        p = self.primary
        return self._issue(p, self._answering, 1.0, p, self._probs)

    def _learn(self, decision: Decision, value: float) -> None:
        arm = decision.arm
        self.comparison.observe(arm, value, self.stats[arm].n)

    def record_outcome(self, arm: str, value: float) -> None:
        super().record_outcome(arm, value)
        self.comparison.observe(arm, float(value), self.stats[arm].n)
        self.check()

    def check(self) -> str | None:
        """Run the test now; promote a better candidate if configured. Returns the winner."""
        winner = self.comparison.check(self.stats)
        if (
            winner is not None
            and self.promote_when_decided
            and not self.promoting
            and winner != self.primary
        ):
            self._promote(winner, "shadow candidate better (mSPRT)")
        return winner

    def _take_effect(self, ev: Promotion) -> None:
        super()._take_effect(ev)
        self._set_primary(ev.winner)

    def summary(self) -> dict[str, Any]:
        self.check()
        out = super().summary()
        out["primary"] = self.primary
        out["test"] = self.comparison.as_dict()
        out["burn_in"] = self.comparison.burn.as_dict(self.stats, self.confidence)
        return out


class ShadowConfig(RouterConfigBase):
    """Config of :class:`ShadowRouter`; defaults: the first model is primary, the rest shadow;
    ``burn_in`` (default 0) the scores per model counted but not fed to the test (module docs)."""

    kind: Literal["shadow"] = "shadow"
    primary: str | None = None
    candidates: list[str] | None = None
    tau: float = Field(0.05, gt=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    min_samples: int = Field(30, ge=2)
    higher_is_better: bool = True
    promote_when_decided: bool = False
    burn_in: int = Field(0, ge=0)

    def build(self, model_names: Sequence[str]) -> ShadowRouter:
        names = check_names(model_names, self.primary, *(self.candidates or []))
        primary = self.primary or names[0]
        candidates = self.candidates or [n for n in names if n != primary]
        if primary in candidates or not candidates:
            raise ExperimentConfigError("shadow needs a primary and at least one other candidate")
        return ShadowRouter(
            primary,
            candidates,
            tau=self.tau,
            alpha=self.alpha,
            min_samples=self.min_samples,
            higher_is_better=self.higher_is_better,
            promote_when_decided=self.promote_when_decided,
            burn_in=self.burn_in,
            **self.common(),
        )
