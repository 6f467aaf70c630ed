"""Canary release: the candidate's share ramps up stage by stage while a guard metric watches it.

Stage ``i`` sends a share ``schedule[i]`` of the traffic to the candidate (sticky by key: an
entity with ``unit_hash(key) < share`` sees the candidate, so entities already in the canary stay
in it as the share grows). The stage advances once the candidate has ``step_outcomes`` new
outcomes. The guard compares the candidate with the primary by an always-valid test and
aborts -- everything routes back to the primary -- as soon as the candidate is worse than the
primary by more than ``margin`` at level ``alpha / 2`` (one-sided), checked at every outcome.
By default (``test = "betting"``) the guard is a one-sided betting test on the paired
differences candidate - primary (:class:`~stream_ml.experiments.stats.BettingTest`,
Waudby-Smith & Ramdas 2023, null ``-margin``, or ``+margin`` with ``higher_is_better=False``),
exact at every sample size for outcomes in [0, 1]; an outcome outside [0, 1] (a latency) makes
it fall back to the mSPRT confidence sequence (Johari et al. 2017) for good, as
``test = "msprt"`` does from the start. The betting guard pairs values in arrival order, so
at a 1% share it has the power of the candidate's outcomes paired with as many of the
primary's (the rest of the primary's outcomes are not used). Outcomes come from ``reward``
(the served arm's metric) or from :meth:`CanaryRouter.record_outcome` (a guard metric such
as an error or latency).

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
from stream_ml.experiments.stats import BettingTest, BurnInStats, MixtureSPRT

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
        test: str = "betting",
        **common: Any,
    ) -> None:
        if test not in ("betting", "msprt"):
            raise ExperimentConfigError(f"test must be 'betting' or 'msprt', got {test!r}")
        super().__init__([primary, candidate], **common)
        self.primary = primary
        self.candidate = candidate
        self.schedule = tuple(schedule)
        self.step_outcomes = step_outcomes
        self.margin = margin
        self.higher_is_better = higher_is_better
        self.promote_when_decided = promote_when_decided
        self.guard = MixtureSPRT(tau=tau, alpha=alpha, min_samples=min_samples)
        # differences of values in [0, 1] lie in [-1, 1]: a margin of 1 or more never fails
        m = min(margin, 1.0 - 1e-9) * (-1.0 if higher_is_better else 1.0)
        self.bet: BettingTest | None = (
            BettingTest(alpha, tau, theta0=m, sides=("down",) if higher_is_better else ("up",))
            if test == "betting"
            else None
        )
        self.bounded = True  # every outcome fed to the betting guard so far in [0, 1]
        self.burn = BurnInStats(self.arms, burn_in)
        self.state = RAMPING
        self.stage = 0
        self._stage_start = 0
        self._set_share(self.schedule[0])

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a canary pickled before burn-in existed guarded from the first outcome, one pickled
        # before the betting guard by its mSPRT
        state.setdefault("burn", BurnInStats((), 0))
        state.setdefault("bet", None)
        state.setdefault("bounded", True)
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

    @property
    def test(self) -> str:
        """The guard's test now: ``"betting"`` or ``"msprt"`` (module docs)."""
        return "betting" if self.bet is not None and self.bounded else "msprt"

    def _observe(self, arm: str, value: float) -> None:
        n = self.stats[arm].n
        self.burn.observe(arm, value, n)
        bet = self.bet
        if bet is None or not self.bounded or (self.burn.burn_in and n <= self.burn.burn_in):
            return
        if not 0.0 <= value <= 1.0:
            self.bounded = False
        elif arm == self.primary:
            bet.update_a(value)
        else:
            bet.update_b(value)

    def _learn(self, decision: Decision, value: float) -> None:
        self._observe(decision.arm, value)
        self._step(decision.arm)

    def record_outcome(self, arm: str, value: float) -> None:
        super().record_outcome(arm, value)
        self._observe(arm, float(value))
        self._step(arm)

    def _guard_failed(self) -> bool:
        if self.bet is not None and self.bounded:
            return self.bet.check()  # one-sided: rejects only "worse by more than margin"
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
            guard={
                **(self.bet.as_dict() if self.test == "betting" and self.bet else {}),
                **({} if self.test == "betting" else self.guard.as_dict()),
                "margin": self.margin,
                "kind": self.test,
            },
            burn_in=self.burn.as_dict(self.stats, self.confidence),
        )
        return out


class CanaryConfig(RouterConfigBase):
    """Config of :class:`CanaryRouter`: a ramp ``schedule`` of candidate shares in (0, 1];
    ``burn_in`` (default 0) the outcomes per arm counted but not fed to the guard; ``test`` the
    guard's test, ``"betting"`` (default) or ``"msprt"`` (module docs)."""

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
    test: Literal["betting", "msprt"] = "betting"

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
            test=self.test,
            **self.common(),
        )
