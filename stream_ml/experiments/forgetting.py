"""Per-arm reward sums and counts that forget: discounted or over a sliding window, for
switching (non-stationary) bandits (Garivier & Moulines 2011, "On upper-confidence bound
policies for switching bandit problems", ALT; Raj & Kalyani 2017, "Taming non-stationary
bandits: a Bayesian approach", arXiv:1707.09727).

The clock is the number of rewards received (one step per reward, whichever arm it was for).

* ``discount = gamma < 1``: at every step every arm's count and sum are multiplied by ``gamma``
  and the rewarded arm adds its reward, ``N_a <- gamma N_a + [a rewarded]``. Done lazily: each
  arm stores the step of its last update and ``gamma ** (t - t_last)`` is applied when it is
  updated or read, so an update is O(1) and a read of all arms O(arms).
* ``window = W``: only the last ``W`` rewards count (a deque of ``(arm, reward)``; the reward
  leaving the window is subtracted), O(1) per update.
* neither: plain running sums and counts.

:meth:`Forgetting.forget` is what a router's ``on_drift`` does to them: ``reset`` empties them,
``discount`` multiplies every count and sum by ``factor`` (a window keeps its newest
``factor`` share instead).

>>> f = Forgetting(2, discount=0.5)
>>> f.update(0, 1.0); f.update(0, 1.0); f.update(1, 0.0)
>>> f.read()
([0.75, 1.0], [0.75, 0.0])
>>> w = Forgetting(2, window=2)
>>> w.update(0, 1.0); w.update(1, 1.0); w.update(1, 0.0)
>>> w.read()
([0.0, 2.0], [0.0, 1.0])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, model_validator

from stream_ml.experiments._config_base import RouterConfigBase
from stream_ml.experiments.errors import ExperimentConfigError
from stream_ml.experiments.stats import ArmStats

__all__ = ["DriftKind", "Forgetting", "ForgettingConfig", "check_drift"]

DriftKind = Literal["reset", "discount"]


def check_drift(kind: str, factor: float) -> None:
    """Validate the arguments of a router's ``on_drift``."""
    if kind not in ("reset", "discount"):
        raise ExperimentConfigError(f"on_drift kind must be 'reset' or 'discount', got {kind!r}")
    if kind == "discount" and not 0.0 <= factor < 1.0:
        raise ExperimentConfigError(f"on_drift discount factor must be in [0, 1), got {factor!r}")


class Forgetting:
    """Discounted or windowed per-arm counts ``n`` and reward sums ``s`` (module docs)."""

    __slots__ = ("discount", "last", "n", "recent", "s", "t", "window")

    def __init__(self, k: int, discount: float = 1.0, window: int | None = None) -> None:
        self.discount = discount
        self.window = window
        self.t = 0
        self.n = [0.0] * k
        self.s = [0.0] * k
        self.last = [0] * k
        self.recent: deque[tuple[int, float]] = deque()

    @classmethod
    def from_stats(cls, arms: Sequence[str], stats: Mapping[str, ArmStats], t: int) -> Forgetting:
        """Plain (never forgetting) counts and sums equal to ``stats`` now, at step ``t``."""
        memory = cls(len(arms))
        memory.t = t
        memory.n = [float(stats[a].n) for a in arms]
        memory.s = [stats[a].mean * stats[a].n for a in arms]
        memory.last = [t] * len(arms)
        return memory

    def update(self, i: int, x: float) -> None:
        """Arm ``i`` received reward ``x`` (one step of the clock)."""
        self.t += 1
        if self.window is not None:
            recent = self.recent
            recent.append((i, x))
            if len(recent) > self.window:
                j, y = recent.popleft()
                self.n[j] -= 1.0
                self.s[j] = self.s[j] - y if self.n[j] > 0.0 else 0.0
        elif self.discount < 1.0:
            f = self.discount ** (self.t - self.last[i])
            self.n[i] *= f
            self.s[i] *= f
            self.last[i] = self.t
        self.n[i] += 1.0
        self.s[i] += x

    def read(self) -> tuple[list[float], list[float]]:
        """Counts and sums of every arm now (copies)."""
        if self.window is not None or self.discount >= 1.0:
            return list(self.n), list(self.s)
        g, t = self.discount, self.t
        fs = [g ** (t - last) for last in self.last]
        return (
            [n * f for n, f in zip(self.n, fs, strict=True)],
            [s * f for s, f in zip(self.s, fs, strict=True)],
        )

    def settle(self) -> None:
        """Apply the pending discount to every arm (after it, ``n`` and ``s`` are current)."""
        self.n, self.s = self.read()
        self.last = [self.t] * len(self.n)

    def add(self, n: float, s: float) -> None:
        """A new arm (the last) with count ``n`` and sum ``s`` (current at this step)."""
        self.n.append(float(n))
        self.s.append(float(s))
        self.last.append(self.t)

    def remove(self, i: int) -> None:
        """Drop arm ``i`` (the arms after it move down by one)."""
        for lst in (self.n, self.s, self.last):
            del lst[i]
        if self.recent:
            self.recent = deque((j - (j > i), x) for j, x in self.recent if j != i)

    def reset(self, i: int) -> None:
        """Arm ``i`` starts over (its rewards in the window stay counted for the clock only)."""
        if self.recent:
            self.recent = deque((j, x) for j, x in self.recent if j != i)
        self.n[i], self.s[i], self.last[i] = 0.0, 0.0, self.t

    def forget(self, kind: DriftKind, factor: float) -> None:
        """``reset``: empty; ``discount``: scale everything by ``factor`` (module docs)."""
        k = len(self.n)
        if kind == "reset" or factor == 0.0:
            self.n, self.s, self.last = [0.0] * k, [0.0] * k, [self.t] * k
            self.recent.clear()
            return
        if self.window is not None:
            drop = len(self.recent) - round(factor * len(self.recent))
            for _ in range(drop):
                j, y = self.recent.popleft()
                self.n[j] -= 1.0
                self.s[j] = self.s[j] - y if self.n[j] > 0.0 else 0.0
            return
        self.settle()
        self.n = [n * factor for n in self.n]
        self.s = [s * factor for s in self.s]


class ForgettingConfig(RouterConfigBase):
    """Config fields of a router whose statistics may forget: ``discount`` (0 < gamma <= 1,
    1 = remember everything) or ``window`` (the last W rewards; None = all), not both."""

    discount: float = Field(1.0, gt=0.0, le=1.0)
    window: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_of(self) -> ForgettingConfig:
        if self.window is not None and self.discount < 1.0:
            raise ValueError("set discount or window, not both")
        return self
