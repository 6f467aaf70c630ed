"""Off-policy evaluation from logged decisions: how would another policy have done?

From logs of ``(context, action, propensity, reward)`` -- the :class:`Decision` s a router
issued and the rewards they got -- estimate the mean reward of a target policy ``pi``:

* IPS (Horvitz & Thompson 1952): ``mean(w * r)`` with ``w = pi(a|x) / mu(a|x)``.
* Self-normalised IPS (Swaminathan & Joachims 2015, "The self-normalized estimator for
  counterfactual learning", NeurIPS): ``sum(w * r) / sum(w)``, interval by the delta method.
* Doubly robust (Dudik, Langford & Li 2011, "Doubly robust policy evaluation and learning",
  ICML): ``mean(sum_a pi(a|x) q(x, a) + w * (r - q(x, a_logged)))`` with a reward model ``q``.

Intervals. Up to :data:`BOOTSTRAP_MAX_N` records the interval is a studentized bootstrap
(bootstrap-t, Efron & Tibshirani 1993, "An introduction to the bootstrap", ch. 12) over the
per-record terms (for SNIPS: the linearised terms): :data:`BOOTSTRAP_B` resamples from a
generator seeded with :data:`BOOTSTRAP_SEED`, so the same log gives the same interval. The
importance-weighted terms are skewed (a few records carry large weights), and the bootstrap-t
follows that skew where a normal interval undercovers at small n; beyond that size the normal
interval is used (the skew has washed out, and the bootstrap would cost more than a few ms).
Every estimate carries the effective sample size of its importance weights, ``ess =
(sum w)^2 / sum w^2`` (Kish 1965), and a ``warning`` when it is under :data:`ESS_WARN`: so few
effective records that no interval should be trusted much. The point estimates are the
plain formulas above, unchanged by the interval method. The logging propensity must be
positive wherever the target policy puts mass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from stream_ml.experiments.decision import Decision
from stream_ml.experiments.errors import BadLogError
from stream_ml.experiments.stats import normal_interval

__all__ = ["Estimate", "OffPolicyLog", "doubly_robust", "effective_sample_size", "ips", "snips"]

#: Largest log whose intervals are bootstrapped (normal intervals beyond).
BOOTSTRAP_MAX_N = 1000
#: Bootstrap resamples, and the seed of their generator.
BOOTSTRAP_B = 999
BOOTSTRAP_SEED = 0
#: Effective sample size under which an estimate carries a warning.
ESS_WARN = 100.0

Policy = Callable[[Any], Mapping[str, float]] | str


@dataclasses.dataclass(slots=True, frozen=True)
class Estimate:
    """A policy value estimate with its interval.

    ``interval`` says how the interval was made (``"bootstrap-t"`` or ``"normal"``), ``ess`` is
    the effective sample size of the importance weights and ``warning`` is set when it is under
    :data:`ESS_WARN` (module docs).

    >>> e = ips(np.array([1.0, 0.0, 1.0]), np.array([0.5, 0.5, 0.5]), np.array([1.0, 0.0, 1.0]))
    >>> e.value, e.ess, e.warning is not None
    (1.3333333333333333, 2.0, True)
    """

    value: float
    low: float
    high: float
    n: int
    method: str
    ess: float = math.nan
    warning: str | None = None
    interval: str = "normal"


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance weights ``w``.

    >>> effective_sample_size(np.array([1.0, 1.0, 0.0, 2.0]))
    2.6666666666666665
    """
    s2 = float((w * w).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0.0 else 0.0


def _interval(terms: np.ndarray, mean: float, confidence: float) -> tuple[float, float, str]:
    n = len(terms)
    var = float(terms.var(ddof=1)) if n > 1 else math.inf
    lo, hi = normal_interval(mean, var, n, confidence)
    if n < 3 or n > BOOTSTRAP_MAX_N or not var > 0.0 or not math.isfinite(var):
        return lo, hi, "normal"
    se = math.sqrt(var / n)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    centre = float(terms.mean())
    boot = terms[rng.integers(n, size=(BOOTSTRAP_B, n))]
    bse = boot.std(axis=1, ddof=1) / math.sqrt(n)
    ok = bse > 0.0
    if ok.sum() < BOOTSTRAP_B // 2:  # too few records with a weight: nothing to resample
        return lo, hi, "normal"
    t = (boot.mean(axis=1)[ok] - centre) / bse[ok]
    a = (1.0 - confidence) / 2.0
    q_hi, q_lo = np.quantile(t, [1.0 - a, a])
    return mean - float(q_hi) * se, mean - float(q_lo) * se, "bootstrap-t"


def _estimate(
    terms: np.ndarray,
    method: str,
    confidence: float,
    w: np.ndarray,
    centre: float | None = None,
) -> Estimate:
    n = len(terms)
    mean = float(terms.mean()) if centre is None else centre
    lo, hi, how = _interval(terms, mean, confidence)
    ess = effective_sample_size(w)
    warning = (
        f"effective sample size {ess:.1f} < {ESS_WARN:g}: few records carry the estimate, "
        "its interval may not cover"
        if ess < ESS_WARN
        else None
    )
    return Estimate(mean, lo, hi, n, method, ess, warning, how)


def ips(
    rewards: np.ndarray, propensities: np.ndarray, target: np.ndarray, confidence: float = 0.95
) -> Estimate:
    """Inverse propensity scoring; ``target[i] = pi(a_i | x_i)`` for the logged action.

    >>> ips(np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([1.0, 0.0])).value
    1.0
    """
    w = target / propensities
    return _estimate(w * rewards, "ips", confidence, w)


def snips(
    rewards: np.ndarray, propensities: np.ndarray, target: np.ndarray, confidence: float = 0.95
) -> Estimate:
    """Self-normalised IPS, interval by the delta method.

    >>> snips(np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([1.0, 0.0])).value
    1.0
    """
    w = target / propensities
    sw = float(w.sum())
    if sw <= 0.0:
        return Estimate(
            math.nan, -math.inf, math.inf, len(w), "snips", 0.0, "no weight on the target policy"
        )
    v = float((w * rewards).sum() / sw)
    terms = w * (rewards - v) / w.mean()
    est = _estimate(terms, "snips", confidence, w, centre=0.0)
    return dataclasses.replace(est, value=v, low=v + est.low, high=v + est.high)


def doubly_robust(
    rewards: np.ndarray,
    propensities: np.ndarray,
    actions: np.ndarray,
    target_dist: np.ndarray,
    reward_hat: np.ndarray,
    confidence: float = 0.95,
) -> Estimate:
    """Doubly robust estimate (Dudik et al. 2011).

    ``actions[i]`` is the logged action's column index; ``target_dist[i, a] = pi(a | x_i)``;
    ``reward_hat[i, a]`` the reward model's prediction for action ``a`` in context ``x_i``.

    >>> r, p, a = np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([0, 1])
    >>> pi, q = np.array([[1.0, 0.0], [1.0, 0.0]]), np.full((2, 2), 0.5)
    >>> doubly_robust(r, p, a, pi, q).value
    1.0
    """
    idx = np.arange(len(rewards))
    w = target_dist[idx, actions] / propensities
    direct = (target_dist * reward_hat).sum(axis=1)
    terms = direct + w * (rewards - reward_hat[idx, actions])
    return _estimate(terms, "dr", confidence, w)


class OffPolicyLog:
    """Logged decisions and rewards of a router, and estimates for other policies.

    A record with a missing, non-finite, zero or negative propensity, an action outside the
    logged distribution, or a non-finite reward is refused with :class:`BadLogError` naming the
    field, counted in ``errors``, and not stored.

    Examples
    --------
    >>> import numpy as np
    >>> from stream_ml.experiments import EpsilonGreedyConfig
    >>> router, rng, log = EpsilonGreedyConfig(epsilon=0.5).build(["a", "b"]), \\
    ...     np.random.default_rng(0), OffPolicyLog(["a", "b"])
    >>> for _ in range(4000):
    ...     d = router.route(None, rng)
    ...     r = float(rng.random() < (0.3 if d.arm == "a" else 0.6))
    ...     router.reward(d, r); log.append(d, r)
    >>> est = log.ips("a")
    >>> est.low < 0.3 < est.high
    True
    """

    def __init__(self, actions: Sequence[str]) -> None:
        self.actions = tuple(actions)
        self._col = {a: i for i, a in enumerate(self.actions)}
        self.contexts: list[Any] = []
        self._a: list[int] = []
        self._p: list[float] = []
        self._r: list[float] = []
        self.errors = 0

    def __len__(self) -> int:
        return len(self._r)

    def append(self, decision: Decision, reward: float, context: Any = None) -> None:
        """Log one decision and its reward."""
        self.add(decision.arm, decision.propensity, reward, context)

    def add(self, action: str, propensity: float, reward: float, context: Any = None) -> None:
        """Log one ``(context, action, propensity, reward)`` record."""
        try:
            if action not in self._col:
                raise BadLogError("action", f"unknown action {action!r}")
            p = float(propensity)
            if not (math.isfinite(p) and 0.0 < p <= 1.0):
                raise BadLogError("propensity", f"must be in (0, 1], got {propensity!r}")
            r = float(reward)
            if not math.isfinite(r):
                raise BadLogError("reward", f"not finite: {reward!r}")
        except BadLogError:
            self.errors += 1
            raise
        except (TypeError, ValueError) as exc:
            self.errors += 1
            raise BadLogError("propensity/reward", f"not a number: {exc}") from exc
        self._a.append(self._col[action])
        self._p.append(p)
        self._r.append(r)
        self.contexts.append(context)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Logged (action indices, propensities, rewards)."""
        return np.asarray(self._a, dtype=int), np.asarray(self._p), np.asarray(self._r)

    def target_dist(self, policy: Policy) -> np.ndarray:
        """``pi(a | x_i)`` for every record and action; a model name means "always that one"."""
        n, k = len(self), len(self.actions)
        out = np.zeros((n, k))
        if isinstance(policy, str):
            out[:, self._col[policy]] = 1.0
            return out
        for i, x in enumerate(self.contexts):
            for a, p in policy(x).items():
                out[i, self._col[a]] = p
        return out

    def ips(self, policy: Policy, confidence: float = 0.95) -> Estimate:
        """IPS estimate of ``policy``'s mean reward."""
        a, p, r = self.arrays()
        return ips(r, p, self.target_dist(policy)[np.arange(len(a)), a], confidence)

    def snips(self, policy: Policy, confidence: float = 0.95) -> Estimate:
        """Self-normalised IPS estimate of ``policy``'s mean reward."""
        a, p, r = self.arrays()
        return snips(r, p, self.target_dist(policy)[np.arange(len(a)), a], confidence)

    def doubly_robust(
        self,
        policy: Policy,
        reward_model: Callable[[Any, str], float] | None = None,
        confidence: float = 0.95,
    ) -> Estimate:
        """DR estimate; the default reward model is the per-action mean reward, cross-fitted on
        two halves of the log (each half's model is fit on the other half)."""
        a, p, r = self.arrays()
        n, k = len(a), len(self.actions)
        q = np.zeros((n, k))
        if reward_model is not None:
            for i, x in enumerate(self.contexts):
                q[i] = [reward_model(x, act) for act in self.actions]
        else:
            half = np.arange(n) % 2
            for h in (0, 1):
                fit = half != h
                for j in range(k):
                    m = fit & (a == j)
                    q[half == h, j] = r[m].mean() if m.any() else 0.0
        return doubly_robust(r, p, a, self.target_dist(policy), q, confidence)
