"""Treatments against a control, each by an always-valid test, with a Bonferroni split of alpha.

Used by the A/B and shadow routers to say "decided / not yet" with the evidence.

Two tests (``test``):

* ``"betting"`` (the default): each treatment's values are paired with the control's in arrival
  order and the differences are tested by :class:`~stream_ml.experiments.stats.BettingTest`
  (Waudby-Smith & Ramdas 2023), exact at every sample size for metrics in [0, 1] (binary
  rewards, accuracies, click indicators). A value outside [0, 1] cannot be bet on: from then on
  the comparison decides by the mSPRT, which runs beside it (``summary()["test"]["test"]`` says
  which one decides; a metric that leaves [0, 1] only after the betting test could have decided
  has a type-I error of at most ``2 alpha``, one that is unbounded from its first value
  ``alpha``).
* ``"msprt"``: the mixture SPRT on the arms' running means and plug-in variances (Johari et al.
  2017), as before; its type-I error is spent largely in the first few hundred observations,
  where the plug-in variance is poor.

>>> from stream_ml.experiments.stats import ArmStats
>>> stats = {"a": ArmStats(), "b": ArmStats()}
>>> cmp = Comparison("a", ["b"], tau=0.1, alpha=0.05)
>>> for i in range(2000):
...     for arm, x in (("a", float(i % 10 < 3)), ("b", float(i % 10 < 5))):
...         stats[arm].update(x); cmp.observe(arm, x, stats[arm].n)
>>> cmp.check(stats), cmp.winner, cmp.test
('b', 'b', 'betting')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stream_ml.experiments.errors import ExperimentConfigError
from stream_ml.experiments.stats import ArmStats, BettingTest, BurnInStats, MixtureSPRT

TESTS = ("betting", "msprt")


class Comparison:
    """Each treatment against ``control``; decided when one treatment is better than control
    (winner: the best such), or when every treatment is worse (winner: control).

    ``test`` is ``"betting"`` (default) or ``"msprt"`` (module docs); ``tau`` is the scale of
    either test's mixture (the effect, in metric units, it is most sensitive to).

    ``higher_is_better=False`` for losses and error rates. With ``burn_in > 0`` the tests are fed
    from per-arm statistics that start after each arm's first ``burn_in`` observations (the
    router reports each one through :meth:`observe`); see :class:`BurnInStats`.
    """

    def __init__(
        self,
        control: str,
        treatments: Sequence[str],
        *,
        tau: float = 0.05,
        alpha: float = 0.05,
        min_samples: int = 30,
        higher_is_better: bool = True,
        burn_in: int = 0,
        test: str = "betting",
    ) -> None:
        if test not in TESTS:
            raise ExperimentConfigError(f"test must be one of {TESTS}, got {test!r}")
        self.control = control
        self.alpha = alpha
        self.higher_is_better = higher_is_better
        k = max(len(treatments), 1)
        self.tests = {
            t: MixtureSPRT(tau=tau, alpha=alpha / k, min_samples=min_samples) for t in treatments
        }
        self.bets: dict[str, BettingTest] | None = (
            {t: BettingTest(alpha=alpha / k, tau=tau) for t in treatments}
            if test == "betting"
            else None
        )
        self.bounded = True  # every value fed so far in [0, 1]
        self.winner: str | None = None
        self.burn = BurnInStats([control, *treatments], burn_in)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a comparison pickled before burn-in existed fed every observation to its tests, one
        # pickled before the betting test decided by its mSPRT
        state.setdefault("burn", BurnInStats((), 0))
        state.setdefault("bets", None)
        state.setdefault("bounded", True)
        self.__dict__.update(state)

    @property
    def test(self) -> str:
        """The test that decides now: ``"betting"`` or ``"msprt"`` (module docs)."""
        return "betting" if self.bets is not None and self.bounded else "msprt"

    @property
    def burn_in(self) -> int:
        """Observations per arm counted but not fed to the tests."""
        return self.burn.burn_in

    def observe(self, arm: str, value: float, n: int) -> None:
        """``value`` is ``arm``'s ``n``-th observation: fed to the tests once past the burn-in."""
        self.burn.observe(arm, value, n)
        bets = self.bets
        if bets is None or not self.bounded or self.winner is not None:
            return
        if self.burn.burn_in and n <= self.burn.burn_in:
            return
        if not 0.0 <= value <= 1.0:
            self.bounded = False
        elif arm == self.control:
            for bet in bets.values():
                bet.update_a(value)
        elif arm in bets:
            bets[arm].update_b(value)

    def _sign(self, t: str) -> int:
        """+1 if treatment ``t``'s mean is decided above the control's, -1 below, 0 not yet."""
        if self.bets is not None and self.bounded:
            return self.bets[t].direction
        test = self.tests[t]
        if not test.rejected:
            return 0
        return 1 if test.low > 0 else -1 if test.high < 0 else 0

    def check(self, stats: Mapping[str, ArmStats]) -> str | None:
        """Update every test from ``stats`` (after the burn-in); return the winner once decided
        (then it sticks)."""
        if self.winner is not None:
            return self.winner
        tested = self.burn.view(stats)
        control = tested[self.control]
        for t, test in self.tests.items():
            test.update(control, tested[t])
        if self.bets is not None and self.bounded:
            for bet in self.bets.values():
                bet.check()
        good = 1 if self.higher_is_better else -1
        better = [t for t in self.tests if self._sign(t) == good]
        if better:
            self.winner = max(better, key=lambda t: good * tested[t].mean)
        elif self.tests and all(self._sign(t) == -good for t in self.tests):
            self.winner = self.control
        return self.winner

    def as_dict(self) -> dict[str, Any]:
        """'decided' / 'not yet', the winner, and each test's evidence."""
        return {
            "status": "decided" if self.winner is not None else "not yet",
            "winner": self.winner,
            "control": self.control,
            "higher_is_better": self.higher_is_better,
            "test": self.test,
            "tests": {
                t: (self.bets[t].as_dict() if self.test == "betting" and self.bets else m.as_dict())
                for t, m in self.tests.items()
            },
            "msprt": {t: test.as_dict() for t, test in self.tests.items()},
        }
