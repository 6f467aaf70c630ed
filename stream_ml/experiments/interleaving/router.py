"""The interleaving router: every ranker answers, the engine serves their merged list.

Protocol with the engine:

1. ``decision = router.route(key, rng)``: ``decision.served`` is :data:`INTERLEAVED` and
   ``decision.answering`` lists every ranker (once a winner is promoted, ``served`` is the winner
   and no interleaving happens).
2. ``il = router.interleave(decision, rankings, rng)`` with each ranker's ranking of the request's
   candidates; serve ``il.items``; keep ``il`` in the pending record.
3. On feedback, ``router.credit(il, clicks)`` credits the clicks and records win / loss / tie
   for every pair of rankers. A click on an item not shown raises :class:`UnknownClickError`,
   counted, and changes nothing. Every ``check_every`` credits (after the burn-in) the router
   runs :meth:`InterleavingRouter.check`, so that ``promote_when_decided`` acts without anyone
   asking for a summary.

Per pair the router reports wins, losses, ties, the sign test (``scipy.stats.binomtest``, a
fixed-sample test) and an always-valid sequential test on the outcomes (+1 / 0 / -1), which is
the one used for "decided", so that watching the dashboard does not inflate false positives:
by default (``test = "betting"``) a betting test (:class:`~stream_ml.experiments.stats.
BettingTest`, Waudby-Smith & Ramdas 2023), exact at every number of comparisons, so that its
type-I error is not spent right after ``min_samples`` as the mSPRT's plug-in variance did;
``test = "msprt"`` keeps the mixture SPRT on the mean outcome (Johari et al. 2017).

Burn-in. The mSPRT assumes the outcome has one mean. While the rankers are still learning it
does not: a ranker that starts badly and learns fast loses the early comparisons and wins the
later ones, and a test fed from the first comparison can settle on the worse ranker (its
p-value is a running minimum and its confidence sequence a running intersection, so early
evidence is never forgotten). The first ``burn_in`` credited comparisons (default 1000) are
therefore counted (wins, losses, ties, sign test, ``mean_outcome``) but not fed to the
sequential test. :meth:`InterleavingRouter.restart_test` starts the tests afresh, with a new
burn-in, e.g. after a ranker was replaced or rolled back; each restart is a new test at level
``alpha``, so k restarts bound the false-positive rate by k * alpha, not alpha.
"""

from __future__ import annotations

import copy
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
from stream_ml.experiments.stats import ArmStats, BettingTest, MixtureSPRT, sign_test

#: Default burn-in: credited comparisons before the sequential tests are fed (module docs).
BURN_IN = 1000


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
    """One pair's counts over every credited comparison, and its sequential test, fed with the
    outcomes after the burn-in (``tested``)."""

    __slots__ = ("bet", "losses", "outcome", "test", "tested", "ties", "wins")

    def __init__(self, alpha: float, tau: float, min_samples: int, betting: bool = True) -> None:
        self.wins = self.losses = self.ties = 0
        self.outcome = ArmStats()
        self.tested = ArmStats()
        self.test = MixtureSPRT(tau=tau, alpha=alpha, min_samples=min_samples)
        self.bet: BettingTest | None = BettingTest(alpha, tau) if betting else None

    def restart(self) -> None:
        """A fresh test with the same parameters; the counts go on."""
        self.tested = ArmStats()
        self.test.reset()
        if self.bet is not None:
            self.bet.reset()

    def sign(self) -> int:
        """+1 once the first ranker is decided better, -1 worse, 0 not yet."""
        if self.bet is not None:
            self.bet.check()
            return self.bet.direction
        self.test.update_one(self.tested)
        if not self.test.rejected:
            return 0
        return 1 if self.test.low > 0 else -1 if self.test.high < 0 else 0

    def evidence(self) -> dict[str, Any]:
        """The deciding test's evidence."""
        return self.bet.as_dict() if self.bet is not None else self.test.as_dict()

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # pickled by object.__reduce_ex__ before __getstate__
            state = {**(state[0] or {}), **state[1]}
        # a router pickled before burn-in existed fed every outcome to its test
        state.setdefault("tested", copy.copy(state["outcome"]))
        state.setdefault("bet", None)  # and before the betting test, decided by its mSPRT
        for name, value in state.items():
            setattr(self, name, value)


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

    @property
    def test(self) -> str:
        """The pairs' sequential test: ``"betting"`` or ``"msprt"`` (module docs)."""
        first = next(iter(self.pairs.values()), None)
        return "betting" if first is not None and first.bet is not None else "msprt"

    # class-level defaults for a router pickled before burn-in existed (its test saw everything)
    burn_in = 0
    check_every = 0  # and it was only checked when asked (check(), summary())
    compared = 0
    test_start = 0
    test_restarts = 0

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
        burn_in: int = BURN_IN,
        check_every: int = 10,
        promote_when_decided: bool = False,
        test: str = "betting",
        **common: Any,
    ) -> None:
        super().__init__(rankers, **common)
        if test not in ("betting", "msprt"):
            raise ExperimentConfigError(f"test must be 'betting' or 'msprt', got {test!r}")
        if method == "balanced" and len(self.arms) != 2:
            raise ExperimentConfigError("balanced interleaving takes exactly two rankers")
        if burn_in < 0:
            raise ExperimentConfigError(f"burn_in must be >= 0, got {burn_in}")
        if check_every < 1:
            raise ExperimentConfigError(f"check_every must be >= 1, got {check_every}")
        self.method = make_method(method, softmax_tau)
        self.length = length
        self.promote_when_decided = promote_when_decided
        k = max(len(self.arms) * (len(self.arms) - 1) // 2, 1)
        betting = test == "betting"
        self.pairs = {p: _Pair(alpha / k, tau, min_samples, betting) for p in pairs(self.arms)}
        self._probs = {a: 1.0 / len(self.arms) for a in self.arms}
        self.winner: str | None = None
        self.burn_in = burn_in
        self.check_every = check_every
        self.compared = 0  # credited comparisons
        self.test_start = 0  # comparisons before the current test's burn-in began
        self.test_restarts = 0

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
        self.compared += 1
        tested = self.compared - self.test_start > self.burn_in
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
            if tested:
                st.tested.update(o)
                if st.bet is not None:
                    st.bet.add(max(-1.0, min(1.0, float(o))))
        if tested and self.check_every and self.compared % self.check_every == 0:
            self.check()
        return result

    @property
    def burn_in_left(self) -> int:
        """Credited comparisons still to come before the current test is fed."""
        return max(self.test_start + self.burn_in - self.compared, 0)

    def restart_test(self) -> None:
        """Start every pair's sequential test afresh, after a new burn-in (e.g. once a ranker
        was replaced). The verdict is cleared; wins, losses and ties go on. Each restart is a
        new test at level ``alpha`` (see the module docs). A promoted router has nothing left
        to test: :class:`ExperimentConfigError`.
        """
        if self.promoted is not None or self.pending_promotion is not None:
            raise ExperimentConfigError(
                f"experiment {self.name!r} promoted {self.promoted or self.pending_promotion}: "
                "nothing to test"
            )
        for st in self.pairs.values():
            st.restart()
        self.winner = None
        self.test_start = self.compared
        self.test_restarts += 1

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
            sign = st.sign()
            if sign > 0:
                beats[r].add(s)
            elif sign < 0:
                beats[s].add(r)
        for a, beaten in beats.items():
            if len(beaten) == len(self.arms) - 1:
                self.winner = a
                if self.promote_when_decided:
                    self._promote(a, f"interleaving decided ({self.test} test on outcomes)")
        return self.winner

    def summary(self) -> dict[str, Any]:
        self.check()
        out = super().summary()
        out["method"] = self.method.name
        out["test"] = self.test
        out["status"] = "decided" if self.winner is not None else "not yet"
        out["winner"] = self.winner
        out["burn_in"] = {
            "comparisons": self.burn_in,
            "left": self.burn_in_left,
            "compared": self.compared,
            "test_started_after": self.test_start,
            "restarts": self.test_restarts,
        }
        out["pairs"] = {
            f"{r}>{s}": {
                "wins": st.wins,
                "losses": st.losses,
                "ties": st.ties,
                "sign_test_p": sign_test(st.wins, st.losses),
                "mean_outcome": st.outcome.mean,
                "tested": st.tested.n,
                "tested_mean_outcome": st.tested.mean,
                "sequential": st.evidence(),
            }
            for (r, s), st in self.pairs.items()
        }
        return out


class InterleavingConfig(RouterConfigBase):
    """Config of :class:`InterleavingRouter`: ``method`` is team_draft, balanced or
    probabilistic; ``length`` the merged list length (default: longest ranking); ``burn_in``
    the credited comparisons counted but not fed to the sequential test; ``test`` that test,
    ``"betting"`` (default) or ``"msprt"`` (module docs)."""

    kind: Literal["interleaving"] = "interleaving"
    method: Literal["team_draft", "balanced", "probabilistic"] = "team_draft"
    length: int | None = Field(None, ge=1)
    softmax_tau: float = Field(3.0, gt=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    tau: float = Field(0.2, gt=0.0)
    min_samples: int = Field(30, ge=2)
    burn_in: int = Field(BURN_IN, ge=0)
    check_every: int = Field(10, ge=1)
    promote_when_decided: bool = False
    test: Literal["betting", "msprt"] = "betting"

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
            burn_in=self.burn_in,
            check_every=self.check_every,
            promote_when_decided=self.promote_when_decided,
            test=self.test,
            **self.common(),
        )
