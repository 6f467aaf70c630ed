"""Arms added at run time (issue #13): every bandit takes a new arm, forgets a removed one, and
restarts a replaced one; the routers that take none refuse with a typed error."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from stream_ml.experiments import (
    EpsilonGreedyConfig,
    Exp3Config,
    ExperimentConfigError,
    FixedConfig,
    ShadowConfig,
    ThompsonConfig,
    UCBConfig,
    UnknownArmError,
)
from stream_ml.experiments.stats import ArmStats

BANDITS = [
    ThompsonConfig(),
    ThompsonConfig(discount=0.99),
    EpsilonGreedyConfig(epsilon=0.1),
    EpsilonGreedyConfig(window=200),
    UCBConfig(),
    UCBConfig(discount=0.99),
    Exp3Config(gamma=0.1),
]
MEANS = {"a": 0.3, "b": 0.4, "c": 0.8}


def evidence(mean: float, n: int = 50) -> ArmStats:
    st = ArmStats()
    for i in range(n):
        st.update(1.0 if i < round(mean * n) else 0.0)
    return st


@pytest.mark.parametrize("cfg", BANDITS, ids=lambda c: f"{c.kind}")
def test_a_new_better_arm_wins_and_a_removed_one_is_never_served(cfg) -> None:
    """Three seeds; margin: the new arm (mean 0.8 vs 0.3 / 0.4) gets >= 60% of the last 1,000 of
    3,000 pulls (Exp3 with gamma 0.1 explores 10% uniformly). After remove_arm it is never
    served, the probabilities sum to 1 over the others, and a pickle round trip routes alike."""
    for seed in range(3):
        router = cfg.build(["a", "b"])
        rng = np.random.default_rng(seed)
        for _ in range(300):
            d = router.route(None, rng)
            router.reward(d, float(rng.random() < MEANS[d.arm]))
        router.add_arm("c", evidence(0.8))
        assert router.arms == ("a", "b", "c") and router.stats["c"].n == 50
        served = []
        for _ in range(3000):
            d = router.route(None, rng)
            served.append(d.arm)
            router.reward(d, float(rng.random() < MEANS[d.arm]))
        assert served[-1000:].count("c") >= 600, (cfg, seed, served[-1000:].count("c"))
        pending = router.route(None, rng)
        router.remove_arm("c")
        assert router.arms == ("a", "b") and "c" not in router.stats
        copy = pickle.loads(pickle.dumps(router))
        r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
        for _ in range(200):
            d, e = router.route(None, r1), copy.route(None, r2)
            assert d.arm == e.arm != "c" and d.propensity == e.propensity
            assert sum(d.probabilities.values()) == pytest.approx(1.0)
            router.reward(d, 1.0)
            copy.reward(e, 1.0)
        if pending.arm == "c":  # a reward for the arm that left is refused
            with pytest.raises(UnknownArmError):
                router.reward(pending, 1.0)


@pytest.mark.parametrize("cfg", BANDITS, ids=lambda c: f"{c.kind}")
def test_reset_arm_returns_it_to_the_prior(cfg) -> None:
    router = cfg.build(["a", "b"])
    rng = np.random.default_rng(0)
    for _ in range(500):
        d = router.route(None, rng)
        router.reward(d, 1.0 if d.arm == "a" else 0.0)
    router.reset_arm("a")
    assert router.stats["a"].n == 0
    served = [router.route(None, rng).arm for _ in range(200)]
    assert "a" in served  # it is tried again (prior, untried, or its weight back to the mean)


@pytest.mark.parametrize("cfg", [FixedConfig(), ShadowConfig()], ids=["fixed", "shadow"])
def test_routers_without_new_arms_refuse(cfg) -> None:
    router = cfg.build(["a", "b"])
    with pytest.raises(ExperimentConfigError, match="takes no new arms"):
        router.add_arm("c")
    assert router.arms == ("a", "b") and router.errors == {"experiment_config": 1}
