"""Contract and propensity tests for every router."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from scipy.stats import binom

from stream_ml.errors import EventError
from stream_ml.experiments import (
    ABConfig,
    BadRewardError,
    Decision,
    RouterConfig,
    ThompsonConfig,
    UnknownArmError,
    UnknownDecisionError,
)

from .conftest import CONFIGS, MODELS, TRUE_MEANS


def drive(router, rng, n, keys=False):
    out = []
    for i in range(n):
        d = router.route(f"k{i}" if keys else None, rng)
        router.reward(d, float(rng.random() < TRUE_MEANS[d.arm]))
        out.append(d)
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_decision_is_consistent(name):
    router = CONFIGS[name].build(MODELS)
    for d in drive(router, np.random.default_rng(0), 300):
        assert d.served == d.arm == d.answering[0]
        assert d.propensity == pytest.approx(d.probabilities[d.arm])
        assert 0.0 < d.propensity <= 1.0
        assert sum(d.probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_deterministic_and_pickles(name):
    a = CONFIGS[name].build(MODELS)
    ra = np.random.default_rng(7)
    drive(a, ra, 200)
    b = pickle.loads(pickle.dumps(a))
    rb = pickle.loads(pickle.dumps(ra))
    da, db = drive(a, ra, 200), drive(b, rb, 200)
    assert [(d.arm, d.propensity) for d in da] == [(d.arm, d.propensity) for d in db]
    fresh = CONFIGS[name].build(MODELS)
    assert [(d.arm, d.propensity) for d in drive(fresh, np.random.default_rng(7), 200)] == [
        (d.arm, d.propensity)
        for d in drive(CONFIGS[name].build(MODELS), np.random.default_rng(7), 200)
    ]


def _check_frequencies(router, rng, n, alpha=0.001):
    """Route n events at a frozen router state (no rewards); the decision's arm frequencies
    must match the logged probabilities within a two-sided binomial (1 - alpha) band per arm."""
    counts, probs = Counter(), None
    for _ in range(n):
        d = router.route(None, rng)
        counts[d.arm] += 1
        probs = probs or d.probabilities
        assert d.probabilities == probs  # the state is frozen: the distribution must not move
    for arm, p in probs.items():
        lo, hi = binom.ppf(alpha / 2, n, p), binom.ppf(1 - alpha / 2, n, p)
        assert lo <= counts[arm] <= hi, (arm, p, counts)


@pytest.mark.parametrize("name", ["ab", "epsilon_greedy", "thompson", "thompson_gauss", "exp3"])
def test_empirical_frequency_matches_propensity_fixed_seed(name):
    router = CONFIGS[name].build(MODELS)
    rng = np.random.default_rng(11)
    drive(router, rng, 200)  # learn something first; then freeze (no rewards) and count
    if hasattr(router, "refresh_every"):
        router.refresh_every = 10**9  # Thompson: keep the current distribution
    _check_frequencies(router, rng, 20_000)


# many examples x several arms: a 99.9% band per arm would fail now and then on a correct router
# (it did, on one seed); a 1e-6 band per arm still catches a propensity off by 0.05 (over 6 sd
# at n = 3000), and derandomize keeps CI reproducible
@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(["ab", "epsilon_greedy", "thompson", "exp3"]),
    seed=st.integers(0, 2**32 - 1),
    warmup=st.integers(0, 60),
)
def test_propensity_property(name, seed, warmup):
    router = CONFIGS[name].build(MODELS)
    rng = np.random.default_rng(seed)
    drive(router, rng, warmup)
    if hasattr(router, "refresh_every"):
        router.refresh_every = 10**9
    _check_frequencies(router, rng, 3000, alpha=1e-6)


def test_sticky_ab_hash_frequency_and_stability():
    router = ABConfig(weights={"m0": 1, "m1": 3}, name="exp").build(["m0", "m1"])
    rng = np.random.default_rng(0)
    first = {f"user-{i}": router.route(f"user-{i}", rng).arm for i in range(20_000)}
    n1 = sum(a == "m1" for a in first.values())
    assert binom.ppf(0.0005, 20_000, 0.75) <= n1 <= binom.ppf(0.9995, 20_000, 0.75)
    assert all(router.route(k, rng).arm == a for k, a in list(first.items())[:500])
    # another process / another router instance gives the same split
    again = ABConfig(weights={"m0": 1, "m1": 3}, name="exp").build(["m0", "m1"])
    assert all(again.route(k, rng).arm == a for k, a in list(first.items())[:500])
    other = ABConfig(weights={"m0": 1, "m1": 3}, name="other").build(["m0", "m1"])
    assert sum(other.route(k, rng).arm != a for k, a in list(first.items())[:500]) > 50


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bad_feedback_is_typed_counted_and_harmless(name):
    router = CONFIGS[name].build(MODELS)
    rng = np.random.default_rng(0)
    drive(router, rng, 50)
    d = router.route(None, rng)
    before = pickle.dumps((router.stats, router.rewards, router._pending))
    with pytest.raises(UnknownDecisionError) as e:
        router.reward(Decision(d.arm, (d.arm,), 1.0, d.arm, {d.arm: 1.0}, seq=10**9), 1.0)
    assert e.value.field == "decision" and isinstance(e.value, EventError)
    with pytest.raises(BadRewardError) as e2:
        router.reward(d, float("nan"))
    assert e2.value.field == "reward"
    with pytest.raises(UnknownArmError):
        router.record_outcome("nope", 1.0)
    assert pickle.dumps((router.stats, router.rewards, router._pending)) == before
    assert router.errors == {"unknown_decision": 1, "bad_reward": 1, "unknown_arm": 1}
    router.reward(d, 1.0)
    with pytest.raises(UnknownDecisionError):  # twice
        router.reward(d, 1.0)


def test_beta_thompson_refuses_out_of_range_reward():
    router = ThompsonConfig().build(MODELS)
    d = router.route(None, np.random.default_rng(0))
    with pytest.raises(BadRewardError):
        router.reward(d, 2.0)
    router.reward(d, 1.0)


def test_ledger_is_bounded():
    router = ThompsonConfig(max_pending=10).build(MODELS)
    rng = np.random.default_rng(0)
    ds = [router.route(None, rng) for _ in range(25)]
    assert router.summary()["pending"] == 10 and router.evicted == 15
    with pytest.raises(UnknownDecisionError):
        router.reward(ds[0], 1.0)
    router.reward(ds[-1], 1.0)


def test_config_union_and_forbid():
    adapter = TypeAdapter(RouterConfig)
    for cfg in CONFIGS.values():
        again = adapter.validate_python(cfg.model_dump())
        assert again == cfg
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "thompson", "n_sample": 3})
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "canary", "schedule": [0.5, 0.1]})


def test_bandits_find_the_best_arm():
    for name in ["epsilon_greedy", "ucb", "thompson", "exp3"]:
        router = CONFIGS[name].build(MODELS)
        drive(router, np.random.default_rng(3), 3000)
        best = max(router.stats, key=lambda a: router.stats[a].n)
        assert best == "m2", name


def test_gaussian_thompson_on_real_rewards():
    router = ThompsonConfig(likelihood="gaussian").build(["a", "b"])
    rng = np.random.default_rng(0)
    for _ in range(1000):
        d = router.route(None, rng)
        router.reward(d, rng.normal(5.0 if d.arm == "b" else 4.0, 2.0))
    assert router.stats["b"].n > 3 * router.stats["a"].n
