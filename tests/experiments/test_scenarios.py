"""Scenario checks on the simulators (fast versions; the full runs are in the benchmark)."""

from __future__ import annotations

from stream_ml.experiments import ABConfig, InterleavingConfig, ThompsonConfig
from stream_ml.experiments.sim import (
    RankingStream,
    ab_vs_interleaving,
    bandit_regret,
    broken_canary,
)

MEANS = {"weak": 0.3, "ok": 0.45, "best": 0.6}


def test_thompson_regret_beats_uniform_ab():
    ts = [bandit_regret(ThompsonConfig().build(list(MEANS)), MEANS, 2000, s)[-1] for s in range(5)]
    ab = [bandit_regret(ABConfig().build(list(MEANS)), MEANS, 2000, s)[-1] for s in range(5)]
    assert sum(ts) / 5 < 0.3 * sum(ab) / 5  # uniform split: ~0.15 * 2000 = 300


def test_broken_canary_is_aborted_early():
    for seed in range(3):
        out = broken_canary(seed)
        assert out["state"] == "aborted" and out["stage"] == 0 and out["candidate_outcomes"] < 100


def test_interleaving_more_sensitive_than_ab():
    stream = RankingStream(10, 5, {"good": 0.1, "bad": 0.2}, seed=0)
    router = InterleavingConfig(length=5).build(["good", "bad"])
    res = ab_vs_interleaving(stream, router, 20_000, "good", "bad")
    assert res["interleaving_mean_outcome"] > 0 and res["ratio"] > 1.5
