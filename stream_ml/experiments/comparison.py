"""Treatments against a control, each by an always-valid mSPRT, with a Bonferroni split of alpha.

Used by the A/B, shadow and canary routers to say "decided / not yet" with the evidence.

>>> from stream_ml.experiments.stats import ArmStats
>>> stats = {"a": ArmStats(), "b": ArmStats()}
>>> cmp = Comparison("a", ["b"], tau=0.1, alpha=0.05)
>>> for i in range(2000):
...     stats["a"].update(float(i % 10 < 3)); stats["b"].update(float(i % 10 < 5))
>>> cmp.check(stats), cmp.winner
('b', 'b')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stream_ml.experiments.stats import ArmStats, BurnInStats, MixtureSPRT


class Comparison:
    """Each treatment against ``control``; decided when one treatment is better than control
    (winner: the best such), or when every treatment is worse (winner: control).

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
    ) -> None:
        self.control = control
        self.alpha = alpha
        self.higher_is_better = higher_is_better
        k = max(len(treatments), 1)
        self.tests = {
            t: MixtureSPRT(tau=tau, alpha=alpha / k, min_samples=min_samples) for t in treatments
        }
        self.winner: str | None = None
        self.burn = BurnInStats([control, *treatments], burn_in)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a comparison pickled before burn-in existed fed every observation to its tests
        state.setdefault("burn", BurnInStats((), 0))
        self.__dict__.update(state)

    @property
    def burn_in(self) -> int:
        """Observations per arm counted but not fed to the tests."""
        return self.burn.burn_in

    def observe(self, arm: str, value: float, n: int) -> None:
        """``value`` is ``arm``'s ``n``-th observation: fed to the tests once past the burn-in."""
        self.burn.observe(arm, value, n)

    def _better(self, test: MixtureSPRT) -> bool:
        return test.rejected and (test.low > 0 if self.higher_is_better else test.high < 0)

    def _worse(self, test: MixtureSPRT) -> bool:
        return test.rejected and (test.high < 0 if self.higher_is_better else test.low > 0)

    def check(self, stats: Mapping[str, ArmStats]) -> str | None:
        """Update every test from ``stats`` (after the burn-in); return the winner once decided
        (then it sticks)."""
        if self.winner is not None:
            return self.winner
        tested = self.burn.view(stats)
        control = tested[self.control]
        for t, test in self.tests.items():
            test.update(control, tested[t])
        better = [t for t, test in self.tests.items() if self._better(test)]
        if better:
            sign = 1.0 if self.higher_is_better else -1.0
            self.winner = max(better, key=lambda t: sign * tested[t].mean)
        elif self.tests and all(self._worse(test) for test in self.tests.values()):
            self.winner = self.control
        return self.winner

    def as_dict(self) -> dict[str, Any]:
        """'decided' / 'not yet', the winner, and each test's evidence."""
        return {
            "status": "decided" if self.winner is not None else "not yet",
            "winner": self.winner,
            "control": self.control,
            "higher_is_better": self.higher_is_better,
            "tests": {t: test.as_dict() for t, test in self.tests.items()},
        }
