"""Statistics (mSPRT under peeking, intervals, sign test) and decided / promoted experiments."""

from __future__ import annotations

import numpy as np
import pytest

from stream_ml.experiments import ABConfig, CanaryConfig, ShadowConfig
from stream_ml.experiments.stats import ArmStats, MixtureSPRT, sign_test, wilson_interval


def test_msprt_false_positive_rate_under_continuous_monitoring():
    """A/A tests watched every 10 events for 3000 events: the always-valid test rejects in at
    most alpha + a binomial margin of the 200 runs (alpha = 0.05: <= 0.09), while a fixed
    z-test peeked at the same times rejects far more often (> 0.15)."""
    runs, msprt_rejects, naive_rejects = 200, 0, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        xa = (rng.random(3000) < 0.2).astype(float)
        xb = (rng.random(3000) < 0.2).astype(float)
        a, b, test, naive = ArmStats(), ArmStats(), MixtureSPRT(tau=0.05), False
        for i in range(3000):
            a.update(xa[i])
            b.update(xb[i])
            if i % 10 == 9:
                test.update(a, b)
                v = a.variance / a.n + b.variance / b.n
                if i > 100 and v > 0 and abs(b.mean - a.mean) / np.sqrt(v) > 1.96:
                    naive = True
        msprt_rejects += test.rejected
        naive_rejects += naive
    assert msprt_rejects / runs <= 0.09
    assert naive_rejects / runs > 0.15


def test_wilson_and_sign_test():
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0.25 < hi < 0.35
    assert sign_test(10, 10) == pytest.approx(1.0)
    assert sign_test(20, 5) < 0.01


def test_ab_decides_and_promotes():
    router = ABConfig(
        weights={"a": 1, "b": 1}, tau=0.1, promote_when_decided=True, check_every=5
    ).build(["a", "b"])
    rng = np.random.default_rng(2)
    for i in range(20_000):
        d = router.route(f"user-{i}", rng)
        router.reward(d, float(rng.random() < (0.2 if d.arm == "a" else 0.3)))
        if router.promoted:
            break
    assert router.promoted == "b"
    [event] = router.pop_events()
    assert event.winner == "b" and router.pop_events() == []
    s = router.summary()
    assert s["test"]["status"] == "decided" and s["test"]["tests"]["b"]["low"] > 0
    d = router.route("user-1", rng)
    assert (d.served, d.propensity) == ("b", 1.0)


def test_ab_summary_not_yet_with_evidence():
    router = ABConfig().build(["a", "b"])
    rng = np.random.default_rng(0)
    for _ in range(100):
        d = router.route(None, rng)
        router.reward(d, float(rng.random() < 0.5))
    s = router.summary()
    assert s["test"]["status"] == "not yet"
    assert set(s["arms"]["a"]) == {"n", "mean", "low", "high"}
    assert s["test"]["tests"]["b"]["p_value"] > 0.05


def test_canary_with_broken_candidate_aborts():
    cfg = CanaryConfig(primary="old", candidate="new", schedule=[0.05, 0.2, 1.0], margin=0.02)
    router, rng = cfg.build(["old", "new"]), np.random.default_rng(0)
    for i in range(20_000):
        d = router.route(f"u{i}", rng)
        p = 0.1 if d.served == "new" else 0.7  # the candidate is broken
        router.reward(d, float(rng.random() < p))
        if router.state == "aborted":
            break
    assert router.state == "aborted" and router.stage == 0
    assert router.stats["new"].n < 200  # caught at the 5% stage
    assert all(router.route(f"u{i}", rng).served == "old" for i in range(500))
    assert router.pop_events()[0].winner == "old"


def test_canary_with_good_candidate_ramps_and_promotes():
    cfg = CanaryConfig(schedule=[0.1, 0.5, 1.0], step_outcomes=200, promote_when_decided=True)
    router, rng = cfg.build(["old", "new"]), np.random.default_rng(0)
    shares = []
    for i in range(20_000):
        d = router.route(f"u{i}", rng)
        router.reward(d, float(rng.random() < 0.5))
        shares.append(router.share)
        if router.state != "ramping":
            break
    assert router.state == "completed" and router.promoted == "new"
    assert sorted(set(shares)) == [0.1, 0.5, 1.0]


def test_canary_is_sticky_as_share_grows():
    router = CanaryConfig(schedule=[0.1, 0.5]).build(["old", "new"])
    rng = np.random.default_rng(0)
    first = {f"u{i}": router.route(f"u{i}", rng).served for i in range(2000)}
    router._set_share(0.5)
    assert all(router.route(k, rng).served == "new" for k, v in first.items() if v == "new")


def test_shadow_promotes_a_better_candidate():
    router = ShadowConfig(primary="old", promote_when_decided=True, tau=0.1).build(["old", "new"])
    rng = np.random.default_rng(0)
    for _ in range(5000):
        d = router.route(None, rng)
        assert d.answering == (router.primary, *(a for a in ("old", "new") if a != router.primary))
        y = rng.random()
        router.reward(d, float(y < (0.6 if d.served == "old" else 0.8)))
        for cand in d.answering[1:]:
            router.record_outcome(cand, float(y < (0.6 if cand == "old" else 0.8)))
        if router.promoted:
            break
    assert router.promoted == "new" and router.route(None, rng).served == "new"
