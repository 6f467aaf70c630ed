"""The interleaving router: every ranker answers, the engine serves their merged list.

Protocol with the engine:

1. ``decision = router.route(key, rng)``: ``decision.served`` is :data:`INTERLEAVED` and
   ``decision.answering`` lists every ranker (once a winner is promoted, ``served`` is the winner
   and no interleaving happens).
2. ``il = router.interleave(decision, rankings, rng)`` with each ranker's ranking of the request's
   candidates; serve ``il.items``; keep ``il`` in the pending record.
3. On feedback, ``router.credit(il, clicks)`` credits the clicks and records win / loss / tie
   for every pair of rankers. A click on an item not shown raises :class:`UnknownClickError`,
   counted, and changes nothing.

Per pair the router reports wins, losses, ties, the sign test (``scipy.stats.binomtest``, a
fixed-sample test) and an always-valid mSPRT on the mean outcome (Johari et al. 2017), which is
the one used for "decided", so that watching the dashboard does not inflate false positives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.base import BaseRouter, check_names
from stream_ml.experiments.decision import INTERLEAVED, Decision
from stream_ml.experiments.errors import ExperimentConfigError, UnknownDecisionError
from stream_ml.experiments.interleaving.balanced import Balanced
from stream_ml.experiments.interleaving.base import Credit, Interleaved, Method, Rankings, pairs
from stream_ml.experiments.interleaving.probabilistic import Probabilistic
from stream_ml.experiments.interleaving.team_draft import TeamDraft
from stream_ml.experiments.stats import ArmStats, MixtureSPRT, sign_test


def make_method(method: str, tau: float = 3.0) -> Method:
    """The interleaving method called ``method``."""
    if method == "team_draft":
        return TeamDraft()
    if method == "balanced":
        return Balanced()
    if method == "probabilistic":
        return Probabilistic(tau)
    raise ExperimentConfigError(f"unknown interleaving method {method!r}")


class _Pair:
    __slots__ = ("losses", "outcome", "test", "ties", "wins")

    def __init__(self, alpha: float, tau: float, min_samples: int) -> None:
        self.wins = self.losses = self.ties = 0
        self.outcome = ArmStats()
        self.test = MixtureSPRT(tau=tau, alpha=alpha, min_samples=min_samples)


class InterleavingRouter(BaseRouter):
    """Interleave (or multileave) the rankers' rankings; credit clicks; test pairs.

    Examples
    --------
    >>> import numpy as np
    >>> router = InterleavingConfig(method="team_draft", length=3).build(["A", "B"])
    >>> rng = np.random.default_rng(0)
    >>> d = router.route("user-1", rng)
    >>> d.answering
    ('A', 'B')
    >>> il = router.interleave(d, {"A": ["x", "y", "z"], "B": ["y", "z", "x"]}, rng)
    >>> clicked = [i for i in il.items if il.teams[i] == "B"][:1]
    >>> router.credit(il, clicked).outcome("A", "B")
    'loss'
    >>> router.summary()["pairs"]["A>B"]["losses"]
    1
    """

    kind = "interleaving"
    merges = True

    def __init__(
        self,
        rankers: Sequence[str],
        *,
        method: str = "team_draft",
        length: int | None = None,
        softmax_tau: float = 3.0,
        alpha: float = 0.05,
        tau: float = 0.2,
        min_samples: int = 30,
        promote_when_decided: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(rankers, **common)
        if method == "balanced" and len(self.arms) != 2:
            raise ExperimentConfigError("balanced interleaving takes exactly two rankers")
        self.method = make_method(method, softmax_tau)
        self.length = length
        self.promote_when_decided = promote_when_decided
        k = max(len(self.arms) * (len(self.arms) - 1) // 2, 1)
        self.pairs = {p: _Pair(alpha / k, tau, min_samples) for p in pairs(self.arms)}
        self._probs = {a: 1.0 / len(self.arms) for a in self.arms}
        self.winner: str | None = None

    def route(self, key: str | None, rng: np.random.Generator) -> Decision:
        if self.promoted is not None:
            w = self.promoted
            return self._issue(w, (w,), 1.0, w, {a: float(a == w) for a in self.arms})
        return self._issue(INTERLEAVED, self.arms, 1.0, INTERLEAVED, self._probs)

    def interleave(
        self, decision: Decision, rankings: Rankings, rng: np.random.Generator
    ) -> Interleaved:
        """Merge the rankers' rankings for ``decision`` (its ``seq`` is kept for the credit)."""
        if decision.seq not in self._pending or decision.arm != INTERLEAVED:
            self._fail(UnknownDecisionError(decision.seq, "not a pending interleaving decision"))
        il = self.method.interleave({r: rankings[r] for r in self.arms}, rng, self.length)
        il.seq = decision.seq
        return il

    def _claim(self, decision: Decision) -> None:
        try:
            del self._pending[decision.seq]
        except KeyError:
            self._fail(UnknownDecisionError(decision.seq))

    def credit(self, interleaved: Interleaved, clicks: Iterable[str]) -> Credit:
        """Credit ``clicks`` to rankers; record the pairwise outcomes. Returns the credit."""
        try:
            result = self.method.credit(interleaved, clicks)
        except Exception as exc:
            code = getattr(exc, "code", "error")
            self.errors[code] = self.errors.get(code, 0) + 1
            raise
        if interleaved.seq not in self._pending:
            self._fail(UnknownDecisionError(interleaved.seq))
        del self._pending[interleaved.seq]
        self.rewards += 1
        for r, score in result.scores.items():
            self.stats[r].update(score)
        for pair, o in result.outcomes.items():
            st = self.pairs[pair]
            if o > 0:
                st.wins += 1
            elif o < 0:
                st.losses += 1
            else:
                st.ties += 1
            st.outcome.update(o)
        return result

    def reward(self, decision: Decision, reward: float) -> None:
        """For a promoted winner: the served ranker's metric (interleaved events use credit)."""
        if decision.arm == INTERLEAVED:
            self._fail(UnknownDecisionError(decision.seq, "interleaved: use credit(il, clicks)"))
        super().reward(decision, reward)

    def check(self) -> str | None:
        """Run the always-valid tests; the winner beats every other ranker. Returns it."""
        if self.winner is not None:
            return self.winner
        beats: dict[str, set[str]] = {a: set() for a in self.arms}
        for (r, s), st in self.pairs.items():
            st.test.update_one(st.outcome)
            if st.test.rejected:
                if st.test.low > 0:
                    beats[r].add(s)
                elif st.test.high < 0:
                    beats[s].add(r)
        for a, beaten in beats.items():
            if len(beaten) == len(self.arms) - 1:
                self.winner = a
                if self.promote_when_decided:
                    self._promote(a, "interleaving decided (mSPRT on outcomes)")
        return self.winner

    def summary(self) -> dict[str, Any]:
        self.check()
        out = super().summary()
        out["method"] = self.method.name
        out["status"] = "decided" if self.winner is not None else "not yet"
        out["winner"] = self.winner
        out["pairs"] = {
            f"{r}>{s}": {
                "wins": st.wins,
                "losses": st.losses,
                "ties": st.ties,
                "sign_test_p": sign_test(st.wins, st.losses),
                "mean_outcome": st.outcome.mean,
                "sequential": st.test.as_dict(),
            }
            for (r, s), st in self.pairs.items()
        }
        return out


class InterleavingConfig(RouterConfigBase):
    """Config of :class:`InterleavingRouter`: ``method`` is team_draft, balanced or
    probabilistic; ``length`` the merged list length (default: longest ranking)."""

    kind: Literal["interleaving"] = "interleaving"
    method: Literal["team_draft", "balanced", "probabilistic"] = "team_draft"
    length: int | None = Field(None, ge=1)
    softmax_tau: float = Field(3.0, gt=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    tau: float = Field(0.2, gt=0.0)
    min_samples: int = Field(30, ge=2)
    promote_when_decided: bool = False

    def build(self, model_names: Sequence[str]) -> InterleavingRouter:
        names = check_names(model_names)
        if len(names) < 2:
            raise ExperimentConfigError("interleaving needs at least two rankers")
        return InterleavingRouter(
            names,
            method=self.method,
            length=self.length,
            softmax_tau=self.softmax_tau,
            alpha=self.alpha,
            tau=self.tau,
            min_samples=self.min_samples,
            promote_when_decided=self.promote_when_decided,
            **self.common(),
        )
