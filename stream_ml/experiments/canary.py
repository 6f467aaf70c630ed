"""Canary release: the candidate's share ramps up stage by stage while a guard metric watches it.

Stage ``i`` sends a share ``schedule[i]`` of the traffic to the candidate (sticky by key: an
entity with ``unit_hash(key) < share`` sees the candidate, so entities already in the canary stay
in it as the share grows). The stage advances once the candidate has ``step_outcomes`` new
outcomes. The guard compares the candidate with the primary by an always-valid confidence
sequence (mSPRT, Johari et al. 2017) and aborts -- everything routes back to the primary -- as
soon as the candidate is worse than the primary by more than ``margin`` with confidence
``1 - alpha``, checked at every outcome. Outcomes come from ``reward`` (the served arm's metric)
or from :meth:`CanaryRouter.record_outcome` (a guard metric such as an error or latency).

Burn-in. With ``burn_in > 0`` the first ``burn_in`` outcomes of each arm are counted in its
statistics (and in the ramp's ``step_outcomes``) but not fed to the guard, which uses per-arm
statistics that start after them (``summary()["burn_in"]``), so that a candidate whose model
still learns online is not aborted for its first, transient outcomes. The default ``burn_in = 0``
guards from the first outcome, as before; leave it there for pre-trained candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, Promotion, check_names
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import ExperimentConfigError
from stream_ml.experiments.hashing import unit_hash
from stream_ml.experiments.stats import BurnInStats, MixtureSPRT

RAMPING, ABORTED, COMPLETED = "ramping", "aborted", "completed"


class CanaryRouter(BaseRouter):
    """Ramp a candidate's traffic share; abort on a failing guard metric.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = CanaryConfig(primary="old", candidate="new", schedule=[0.1, 0.5, 1.0],
    ...                    step_outcomes=50, min_samples=20)
    >>> router, rng = cfg.build(["old", "new"]), np.random.default_rng(1)
    >>> for i in range(2000):
    ...     d = router.route(f"user-{i}", rng)
    ...     router.reward(d, 0.0 if d.served == "new" else 1.0)   # the candidate is broken
    >>> router.state, router.route("user-1", rng).served
    ('aborted', 'old')
    """

    kind = "canary"

    def __init__(
        self,
        primary: str,
        candidate: str,
        schedule: Sequence[float],
        *,
        step_outcomes: int = 1000,
        margin: float = 0.0,
        tau: float = 0.05,
        alpha: float = 0.05,
        min_samples: int = 30,
        higher_is_better: bool = True,
        promote_when_decided: bool = False,
        burn_in: int = 0,
        **common: Any,
    ) -> None:
        super().__init__([primary, candidate], **common)
        self.primary = primary
        self.candidate = candidate
        self.schedule = tuple(schedule)
        self.step_outcomes = step_outcomes
        self.margin = margin
        self.higher_is_better = higher_is_better
        self.promote_when_decided = promote_when_decided
        self.guard = MixtureSPRT(tau=tau, alpha=alpha, min_samples=min_samples)
        self.burn = BurnInStats(self.arms, burn_in)
        self.state = RAMPING
        self.stage = 0
        self._stage_start = 0
        self._set_share(self.schedule[0])

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a canary pickled before burn-in existed guarded from the first outcome
        state.setdefault("burn", BurnInStats((), 0))
        self.__dict__.update(state)

    @property
    def burn_in(self) -> int:
        """Outcomes per arm counted but not fed to the guard (module docs)."""
        return self.burn.burn_in

    def _set_share(self, share: float) -> None:
        self.share = share
        self._probs = {self.primary: 1.0 - share, self.candidate: share}

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        share = self.share
        if self.state == ABORTED or share <= 0.0:
            p = self.primary
            return self._issue(p, (p,), 1.0, p, {p: 1.0, self.candidate: 0.0})
        u = unit_hash(key, self.name) if key is not None else float(rng.random())
        if u < share:
            c = self.candidate
            return self._issue(c, (c,), share, c, self._probs)
        p = self.primary
        return self._issue(p, (p,), 1.0 - share, p, self._probs)

    def _learn(self, decision: Decision, value: float) -> None:
        arm = decision.arm
        self.burn.observe(arm, value, self.stats[arm].n)
        self._step(arm)

    def record_outcome(self, arm: str, value: float) -> None:
        super().record_outcome(arm, value)
        self.burn.observe(arm, float(value), self.stats[arm].n)
        self._step(arm)

    def _guard_failed(self) -> bool:
        g = self.guard
        tested = self.burn.view(self.stats)
        g.update(tested[self.primary], tested[self.candidate])
        if self.higher_is_better:
            return g.high < -self.margin
        return g.low > self.margin

    def _step(self, arm: str) -> None:
        if self.state != RAMPING or self.pending_promotion is not None:
            return
        if self._guard_failed():
            self._promote(self.primary, f"guard failed: candidate worse by > {self.margin}")
            return
        n = self.stats[self.candidate].n
        if arm == self.candidate and n - self._stage_start >= self.step_outcomes:
            self._stage_start = n
            if self.stage + 1 < len(self.schedule):
                self.stage += 1
                self._set_share(self.schedule[self.stage])
            elif self.promote_when_decided:
                self._promote(self.candidate, "ramp completed, guard held")
            else:
                self.state = COMPLETED

    def _take_effect(self, ev: Promotion) -> None:
        super()._take_effect(ev)
        if ev.winner == self.primary:  # the guard failed
            self.state = ABORTED
            self._set_share(0.0)
        else:
            self.state = COMPLETED
            self._set_share(1.0)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out.update(
            state=self.state,
            status="not yet" if self.state == RAMPING else "decided",
            stage=self.stage,
            share=self.share,
            schedule=list(self.schedule),
            guard={**self.guard.as_dict(), "margin": self.margin},
            burn_in=self.burn.as_dict(self.stats, self.confidence),
        )
        return out


class CanaryConfig(RouterConfigBase):
    """Config of :class:`CanaryRouter`: a ramp ``schedule`` of candidate shares in (0, 1];
    ``burn_in`` (default 0) the outcomes per arm counted but not fed to the guard (module docs)."""

    kind: Literal["canary"] = "canary"
    primary: str | None = None
    candidate: str | None = None
    schedule: list[float] = Field(default_factory=lambda: [0.01, 0.05, 0.25, 0.5, 1.0])
    step_outcomes: int = Field(1000, ge=1)
    margin: float = Field(0.0, ge=0.0)
    tau: float = Field(0.05, gt=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    min_samples: int = Field(30, ge=2)
    higher_is_better: bool = True
    promote_when_decided: bool = False
    burn_in: int = Field(0, ge=0)

    @field_validator("schedule")
    @classmethod
    def _ramp(cls, v: list[float]) -> list[float]:
        if not v or any(not 0.0 < s <= 1.0 for s in v) or sorted(v) != v:
            raise ValueError("schedule must be a non-empty increasing list of shares in (0, 1]")
        return v

    def build(self, model_names: Sequence[str]) -> CanaryRouter:
        names = check_names(model_names, self.primary, self.candidate)
        primary = self.primary or names[0]
        others = [n for n in names if n != primary]
        candidate = self.candidate or (others[0] if others else None)
        if candidate is None or candidate == primary:
            raise ExperimentConfigError("canary needs a primary and a different candidate")
        return CanaryRouter(
            primary,
            candidate,
            self.schedule,
            step_outcomes=self.step_outcomes,
            margin=self.margin,
            tau=self.tau,
            alpha=self.alpha,
            min_samples=self.min_samples,
            higher_is_better=self.higher_is_better,
            promote_when_decided=self.promote_when_decided,
            burn_in=self.burn_in,
            **self.common(),
        )
