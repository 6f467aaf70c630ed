"""The interleaving-vs-A/B sensitivity simulator: exact per-request distributions against a
direct simulation through the real team-draft router, the simulated power, the bisection."""

from __future__ import annotations

import numpy as np
import pytest

from stream_ml.experiments import InterleavingConfig
from stream_ml.experiments.sensitivity import (
    ClickModelConfig,
    QueryPool,
    ab_pmf,
    events_at_power,
    interleaving_pmf,
    power,
)

SMALL = ClickModelConfig(n_queries=30, n_docs=10, length=6, n_users=8, noise_bad=1.0)


def test_exact_pmfs_match_direct_simulation_through_the_router():
    pool = QueryPool(SMALL, seed=3)
    ab, il = ab_pmf(pool), interleaving_pmf(pool)
    assert ab.sum(axis=1) == pytest.approx([1.0, 1.0]) and il.sum() == pytest.approx(1.0)
    router = InterleavingConfig(length=SMALL.length).build(["good", "bad"])
    rng = np.random.default_rng(0)
    n = 20_000
    outcomes = np.zeros(3)
    clicks = np.zeros(2)
    for _ in range(n):
        j, u = int(rng.integers(SMALL.n_queries)), int(rng.integers(SMALL.n_users))
        d = router.route(None, rng)
        shown = router.interleave(d, pool.rankings[j], rng)
        att = np.array([pool.doc_attraction[j, int(i[1:])] for i in shown.items])
        clicked = [
            i for i, p in zip(shown.items, pool.click_probabilities(att, u)) if rng.random() < p
        ]
        o = router.credit(shown, clicked).outcome("good", "bad")
        outcomes[["win", "tie", "loss"].index(o)] += 1
        for r in (0, 1):
            p = pool.click_probabilities(pool.attraction[r, j], u)
            clicks[r] += (rng.random(len(p)) < p).sum()
    for k in range(3):  # 4 sigma of a binomial proportion
        assert abs(outcomes[k] / n - il[k]) <= 4 * np.sqrt(il[k] * (1 - il[k]) / n)
    x = np.arange(ab.shape[1])
    mean, var = ab @ x, ab @ (x * x) - (ab @ x) ** 2
    assert np.all(np.abs(clicks / n - mean) <= 4 * np.sqrt(var / n))


def test_power_is_alpha_half_under_the_null_and_one_far_out():
    sym = np.array([0.1, 0.8, 0.1])
    runs = 4000  # detection of the right winner under the null: alpha / 2 = 0.025
    p_il = power("interleaving", sym, 5000, runs=runs, seed=1)
    p_ab = power("ab", np.array([[0.7, 0.2, 0.1]] * 2), 5000, runs=runs, seed=1)
    for p in (p_il, p_ab):
        assert p <= 0.025 + 4 * np.sqrt(0.025 * 0.975 / runs)
    assert power("interleaving", np.array([0.12, 0.8, 0.08]), 20_000, runs=500) == 1.0


def test_bisection_brackets_the_target_and_matches_the_normal_approximation():
    pmf = np.array([0.11, 0.8, 0.09])
    res = events_at_power("interleaving", pmf, runs=1000, seed=2)
    n = res["events"]
    assert res["power"] >= 0.95
    assert power("interleaving", pmf, int(n / 1.02) - 1, runs=1000, seed=2) < 0.95
    e, v = 0.02, 0.2 - 0.02**2
    normal = (1.959964 + 1.644854) ** 2 * v / e**2
    assert abs(n / normal - 1.0) < 0.1


def test_heterogeneity_makes_ab_relatively_costlier():
    """The A/B / interleaving ratio drops when users and queries are made homogeneous."""
    base = dict(n_queries=200, n_users=16)
    ratios = []
    for cfg in (
        ClickModelConfig(**base),
        ClickModelConfig(**base, user_a=500, user_b=1500, query_a=300, query_b=700),
    ):
        pool = QueryPool(cfg, seed=0)
        n_ab = events_at_power("ab", ab_pmf(pool), runs=500, rel_tol=0.03)["events"]
        n_il = events_at_power("interleaving", interleaving_pmf(pool), runs=500, rel_tol=0.03)
        ratios.append(n_ab / n_il["events"])
    assert ratios[0] > 1.5 * ratios[1] and ratios[1] > 1.0, ratios
