"""What every router shares: the pending-decision ledger, reward validation, error counts,
per-arm statistics and the promotion event.

The engine calls :meth:`BaseRouter.route` for each event and, when the feedback arrives (maybe
much later), :meth:`BaseRouter.reward` with the same :class:`Decision`. The router keeps the
sequence numbers of decisions not yet rewarded in a bounded ledger (``max_pending``, oldest
evicted first, evictions counted); a reward for a decision that is not in the ledger raises
:class:`UnknownDecisionError`, is counted in ``errors`` and changes nothing else.

Promotions. A router that decides (``promote_when_decided``, a canary's abort) records a
:class:`Promotion` event. Standalone, the promotion takes effect at once. With
``defer_promotions`` (the engine sets it) it is held in ``pending_promotion`` until
:meth:`BaseRouter.apply_promotion` (the engine calls it before routing its next observation), so
that the runtime can snapshot the state in between: the last state before the winner serves
anything, from which a run resumes exactly, and in which the promotion can still be dropped
(:meth:`BaseRouter.cancel_promotion`). Rewards that arrive while a promotion is pending are
recorded as usual; the router does not decide a second time.

>>> from stream_ml.experiments import ABConfig
>>> router = ABConfig(promote_when_decided=True, min_samples=2).build(["a", "b"])
>>> router.defer_promotions = True
>>> router._promote("b", "decided")
>>> router.promoted, router.pending_promotion.winner
(None, 'b')
>>> router.apply_promotion().winner, router.promoted, router.pending_promotion
('b', 'b', None)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from stream_ml.errors import StreamMLError
from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import (
    BadRewardError,
    ExperimentConfigError,
    UnknownArmError,
    UnknownDecisionError,
)
from stream_ml.experiments.forgetting import DriftKind, check_drift
from stream_ml.experiments.stats import ArmStats

__all__ = ["BaseRouter", "Promotion", "Router"]


@runtime_checkable
class Router(Protocol):
    """The engine's view of a router."""

    def route(self, key: str | None, rng: np.random.Generator) -> Decision: ...

    def reward(self, decision: Decision, reward: float) -> None: ...

    def summary(self) -> dict[str, Any]: ...


@dataclasses.dataclass(slots=True, frozen=True)
class Promotion:
    """An experiment was decided and ``winner`` now serves everything (or was aborted)."""

    experiment: str
    winner: str
    reason: str
    decisions: int


def check_names(model_names: Sequence[str], *wanted: str | None) -> list[str]:
    """Validate the model list and that every name in ``wanted`` is in it."""
    names = list(model_names)
    if not names:
        raise ExperimentConfigError("a router needs at least one model")
    if len(set(names)) != len(names):
        raise ExperimentConfigError(f"duplicate model names: {names}")
    for w in wanted:
        if w is not None and w not in names:
            raise ExperimentConfigError(f"model {w!r} is not among {names}")
    return names


class BaseRouter:
    """Ledger, error counts, arm statistics and promotion shared by all routers.

    Subclasses implement :meth:`route` (ending in :meth:`_issue`) and :meth:`_learn`.
    """

    kind = "base"
    #: whether models added at run time can join as arms (:meth:`add_arm`): the bandits
    accepts_arms = False
    # class-level defaults for routers pickled before promotions could be deferred
    pending_promotion: Promotion | None = None
    defer_promotions = False

    def __init__(
        self,
        arms: Sequence[str],
        *,
        name: str = "experiment",
        max_pending: int = 100_000,
        confidence: float = 0.95,
    ) -> None:
        self.arms: tuple[str, ...] = tuple(arms)
        self.name = name
        self.max_pending = max_pending
        self.confidence = confidence
        self.stats: dict[str, ArmStats] = {a: ArmStats() for a in self.arms}
        self.errors: dict[str, int] = {}
        self.decisions = 0
        self.rewards = 0
        self.evicted = 0
        self.promoted: str | None = None
        self.pending_promotion = None
        self.defer_promotions = False
        self.events: list[Promotion] = []
        self._pending: dict[int, None] = {}

    # -- the engine's verbs ------------------------------------------------------------------
    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        """Choose the arm(s) for one event."""
        raise NotImplementedError

    def reward(self, decision: Decision, reward: float) -> None:
        """Feedback for ``decision``: validated, then the arm learns it. Returns None."""
        if type(reward) is float and reward - reward == 0.0:  # a finite float: as it is
            value = reward
        else:
            value = self._check_reward(reward)
        self._check_range(value)
        self._claim(decision)
        self.rewards += 1
        self.stats[decision.arm].update(value)
        self._learn(decision, value)

    def record_outcome(self, arm: str, value: float) -> None:
        """A metric for ``arm`` that is not the bandit's reward (shadow scores, canary guards).

        The default adds it to the arm's statistics.
        """
        v = value if type(value) is float and value - value == 0.0 else self._check_reward(value)
        st = self.stats.get(arm)
        if st is None:
            self._fail(UnknownArmError(arm))
        st.update(v)

    def pop_events(self) -> list[Promotion]:
        """Promotion / abort events since the last call (the engine forwards them to sinks)."""
        out, self.events = self.events, []
        return out

    def summary(self) -> dict[str, Any]:
        """Per-arm metric with intervals, counts, and the router's decision state."""
        return {
            "experiment": self.name,
            "kind": self.kind,
            "decisions": self.decisions,
            "rewards": self.rewards,
            "pending": len(self._pending),
            "evicted": self.evicted,
            "errors": dict(self.errors),
            "arms": {a: s.as_dict(self.confidence) for a, s in self.stats.items()},
            "promoted": self.promoted,
            "pending_promotion": (
                None if self.pending_promotion is None else self.pending_promotion.winner
            ),
        }

    def on_drift(self, kind: str = "reset", factor: float = 0.5) -> None:
        """A drift monitor raised an episode: forget what the policy learned. Returns None.

        ``kind="reset"`` returns the policy's statistics to the prior (as if no reward had
        arrived); ``kind="discount"`` multiplies them by ``factor`` in [0, 1) (evidence is
        kept but weighs less; ``factor=0`` is a reset). Only the *policy's* statistics change
        (bandits: counts and sums, posteriors, Exp3 weights): ``summary()["arms"]``, the
        ledger of pending decisions, promotions and error counts are untouched, and a promoted
        router keeps serving its winner. Routers that do not learn a policy (fixed, A/B,
        shadow, canary, interleaving) ignore it. Bad arguments raise
        :class:`~stream_ml.experiments.errors.ExperimentConfigError` before anything changes.
        """
        check_drift(kind, factor)
        self._forget(kind, factor)  # type: ignore[arg-type]

    # -- arms added at run time (drift challengers, ``Engine.add_slot``) -----------------------
    def add_arm(self, arm: str, stats: ArmStats | None = None) -> None:
        """A new arm joins the experiment, with the evidence ``stats`` gathered in shadow
        (its rewards on events served by others; None: no evidence). Returns None.

        Only routers with ``accepts_arms`` (the bandits) take new arms; the policy starts the
        arm from ``stats`` (Thompson: its posterior; epsilon-greedy, UCB: its mean and count;
        Exp3: the mean log weight). A promoted router keeps serving its winner.
        """
        if not self.accepts_arms:
            self._fail(ExperimentConfigError(f"a {self.kind} router takes no new arms"))
        if arm in self.stats:
            self._fail(ExperimentConfigError(f"arm {arm!r} is already in the experiment"))
        st = ArmStats() if stats is None else stats
        self.arms = (*self.arms, arm)
        self.stats[arm] = st
        self._add_arm(arm, st)

    def remove_arm(self, arm: str) -> None:
        """Drop an arm (a drift challenger promoted or dropped). Rewards still pending for it
        are not accepted (the router stage drops them). Returns None."""
        if arm not in self.stats or len(self.arms) == 1:
            self._fail(UnknownArmError(arm))
        i = self.arms.index(arm)
        self.arms = tuple(a for a in self.arms if a != arm)
        del self.stats[arm]
        self._remove_arm(i)
        if self.promoted == arm:
            self.promoted = None

    def reset_arm(self, arm: str) -> None:
        """The model behind ``arm`` was replaced (a drift promotion): its policy statistics
        start over from the prior (its reported ``stats`` too). Returns None."""
        if arm not in self.stats:
            self._fail(UnknownArmError(arm))
        self.stats[arm] = ArmStats()
        self._reset_arm(self.arms.index(arm))

    # -- helpers for subclasses --------------------------------------------------------------
    def _add_arm(self, arm: str, stats: ArmStats) -> None:
        """Grow the policy's state by one arm (the last), from ``stats``."""

    def _remove_arm(self, i: int) -> None:
        """Drop the policy's state of the arm that was ``i``-th."""

    def _reset_arm(self, i: int) -> None:
        """Return the ``i``-th arm's policy state to the prior."""

    def _forget(self, kind: DriftKind, factor: float) -> None:
        """Forget the policy's statistics (:meth:`on_drift`; default: nothing to forget)."""

    def _learn(self, decision: Decision, value: float) -> None:
        """Update the policy from one validated reward (default: statistics only)."""

    def _check_range(self, value: float) -> None:
        """Refuse rewards the policy cannot use (default: any finite value is fine)."""

    def _issue(
        self,
        served: str,
        answering: tuple[str, ...],
        propensity: float,
        arm: str,
        probabilities: dict[str, float],
    ) -> Decision:
        seq = self.decisions
        self.decisions += 1
        pending = self._pending
        pending[seq] = None
        if len(pending) > self.max_pending:
            del pending[next(iter(pending))]
            self.evicted += 1
        return Decision(served, answering, propensity, arm, probabilities, seq)

    def _claim(self, decision: Decision) -> None:
        if type(decision) is not Decision and not isinstance(decision, Decision):
            self._fail(UnknownDecisionError(-1, f"not a Decision: {type(decision).__name__}"))
        if decision.arm not in self.stats:
            self._fail(UnknownArmError(decision.arm, "decision"))
        try:
            del self._pending[decision.seq]
        except KeyError:
            self._fail(UnknownDecisionError(decision.seq))

    def _check_reward(self, reward: Any) -> float:
        if isinstance(reward, bool):
            return float(reward)
        try:
            value = float(reward)
        except (TypeError, ValueError) as exc:
            self._fail(BadRewardError(reward, "not a number"), exc)
        if not math.isfinite(value):
            self._fail(BadRewardError(reward, "not finite"))
        return value

    def _fail(self, err: StreamMLError, cause: BaseException | None = None) -> Any:
        code = getattr(err, "code", "error")
        self.errors[code] = self.errors.get(code, 0) + 1
        raise err from cause

    @property
    def promoting(self) -> bool:
        """True once a promotion was decided (in effect or pending): do not decide again."""
        return self.promoted is not None or self.pending_promotion is not None

    def apply_promotion(self) -> Promotion | None:
        """Let the pending promotion take effect now; returns it (None when there is none)."""
        ev = self.pending_promotion
        if ev is not None:
            self.pending_promotion = None
            self._take_effect(ev)
        return ev

    def cancel_promotion(self) -> Promotion | None:
        """Drop the pending promotion (e.g. in a snapshot restored to undo it); returns it.

        ``promote_when_decided`` is turned off, so that the same evidence does not promote
        again; the experiment goes on as before the decision. (A canary's abort is not
        optional: its guard aborts again at the next outcome if it still fails.)
        """
        ev = self.pending_promotion
        if ev is not None:
            self.pending_promotion = None
            if hasattr(self, "promote_when_decided"):
                self.promote_when_decided = False
        return ev

    def _promote(self, winner: str, reason: str) -> None:
        ev = Promotion(self.name, winner, reason, self.decisions)
        self.events.append(ev)
        if self.defer_promotions:
            self.pending_promotion = ev
        else:
            self._take_effect(ev)

    def _take_effect(self, ev: Promotion) -> None:
        """Route to the winner from now on (subclasses add their own changes)."""
        self.promoted = ev.winner
